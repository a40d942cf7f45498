//! The media plane of the gateway, in the parts of the design:
//!
//! * [`core`]: the sans-IO heart of one shard (demultiplexing, timers, drain order):
//!   `handle_*(now, ..)` in; `poll_transmit`, `poll_event`, `poll_timeout` out.
//! * [`transport`]: one browser's ICE-lite/DTLS-SRTP peer over webrtc-rs `rtc`, and the
//!   in-place SRTP send path of forwarded media (RTX history, sender reports).
//! * [`router`]: producers to consumers (layers, keyframe pacing, the forwarder of each
//!   subscriber); decides, never touches a transport.
//! * [`bridge`]: plain RTP legs toward SIP and their SDP.
//! * [`mix`]: the audio mix of a room with phones in it (decode, N − 1 mix, encode).
//! * [`engine`]: the tokio shell: one shard per core, each a thread with its own sockets
//!   (batched receive and send), running a [`core::Core`].
//!
//! Imports go one way: `engine` -> `core` -> `transport`, `router`, `bridge` -> `mix` -> the
//! leaves ([`ids`], [`outbox`], [`rtp`]). Only `engine` knows tokio.
//!
//! Contract with the application: it creates peers (a publisher answers a browser's offer, a
//! subscriber offers a publisher's media to a browser), passes trickled candidates and
//! answers, and receives [`MediaEvent`]s (connected, closed). The engine routes media by
//! itself: every packet a publisher sends goes to each of its subscribers.

pub mod bridge;
pub mod core;
pub mod engine;
pub mod ids;
pub mod mix;
pub mod outbox;
pub mod router;
pub mod rtp;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transport;

pub use crate::bridge::sdes::SdesMode;
pub use crate::core::calls::{BrowserUpdate, SipUpdate};
pub use crate::core::{Core, CoreConfig, EngineStats, MediaEvent, PeerEvent};
pub use engine::{EngineConfig, EngineHandle};
pub use ids::{Kind, MixId, PeerId, ShardId, Via, VideoCodec};
pub use router::ForwardOptions;
pub use transport::peer::SrtpPolicy;
pub use transport::RtxLimits;

/// Media failures a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The SDP could not be parsed or applied.
    #[error("invalid SDP: {0}")]
    BadSdp(String),
    #[error("unknown peer")]
    UnknownPeer,
    #[error("WebRTC error: {0}")]
    Rtc(String),
    #[error("the media engine is not running")]
    EngineGone,
    /// The engine failed while doing this (a panic in this peer's work): the peer is gone.
    #[error("internal error in the media engine")]
    Failed,
    /// The two sides of a call have no codec in common (SIP 488).
    #[error("no common codec")]
    NoCommonCodec,
    /// An offer of the other side is still waiting for its answer (SIP 491, RFC 3261 §14).
    #[error("an offer is already pending")]
    OfferPending,
    /// An answer came with no offer waiting for it.
    #[error("no offer is pending")]
    NoOfferPending,
}

impl MediaError {
    /// An error of `rtc`, by its text.
    pub(crate) fn rtc(e: impl std::fmt::Display) -> MediaError {
        MediaError::Rtc(e.to_string())
    }
}

impl From<bridge::sdp::SdpError> for MediaError {
    fn from(e: bridge::sdp::SdpError) -> Self {
        match e {
            bridge::sdp::SdpError::NoCommonCodec => MediaError::NoCommonCodec,
            other => MediaError::BadSdp(other.to_string()),
        }
    }
}
