//! The media plane of the gateway.
//!
//! * [`engine`]: one task owning the shared UDP socket and every peer; its run loop feeds
//!   datagrams, commands and timeouts to the peers and drains their outputs.
//! * [`peer`]: one browser's transport over webrtc-rs `rtc` (ICE-lite, DTLS-SRTP, BUNDLE).
//! * [`munger`], [`vp8`], [`stun`]: the small pure pieces of forwarding and demultiplexing.
//!
//! Contract with the application: it creates peers (a publisher answers a browser's offer, a
//! subscriber offers a publisher's media to a browser), passes trickled candidates and
//! answers, and receives [`engine::MediaEvent`]s (connected, closed). The engine routes media
//! by itself: every packet a publisher sends goes to each of its subscribers.

pub mod engine;
pub mod layers;
pub mod munger;
pub mod peer;
pub mod plain;
pub mod sdp_plain;
pub mod sfu;
pub mod srtp;
pub mod stun;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod vp8;

pub use engine::{
    EngineConfig, EngineHandle, EngineStats, ForwardOptions, MediaEvent, PeerEvent, PeerId,
};
pub use peer::SrtpPolicy;
pub use sfu::{RtxLimits, Sfu, Transmit};

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
}

impl From<sdp_plain::SdpError> for MediaError {
    fn from(e: sdp_plain::SdpError) -> Self {
        match e {
            sdp_plain::SdpError::NoCommonCodec => MediaError::NoCommonCodec,
            other => MediaError::BadSdp(other.to_string()),
        }
    }
}
