//! An independent WebRTC peer for integration tests, built on the async `webrtc` crate
//! (webrtc-rs) version 0.21.1, which is itself a thin async layer over the sans-I/O `rtc`
//! 0.21.1 core.
//!
//! The peer is deliberately "browser-like" where it matters for interop with the gateway:
//!
//! * one BUNDLE group, rtcp-mux, DTLS-SRTP, full ICE agent;
//! * when it answers, it takes the DTLS client role (`a=setup:active`), as Chrome does;
//! * a publisher sends one Opus track (PT 111) and one VP8 track (PT 96) on `sendonly`
//!   transceivers, each with an `a=ssrc` line in its SDP;
//! * NACK + RTCP sender/receiver reports interceptors are on (`configure_nack`,
//!   `configure_rtcp_reports`), and inbound PLI/FIR reach the application so a publisher
//!   answers a keyframe request with a keyframe.
//!
//! Networking is loopback only: the peer binds exactly one UDP socket on `127.0.0.1:0`,
//! has no STUN/TURN servers and mDNS is disabled, so its only ICE candidate is one
//! `typ host` candidate on 127.0.0.1.
//!
//! The generated media is synthetic but structurally valid, so a receiver can check
//! integrity end to end:
//!
//! * audio payload (20 ms cadence, timestamp step 960 @ 48 kHz):
//!   `0xA0, counter (u64 big-endian), 11 filler bytes derived from the counter`;
//! * video payload (33 ms cadence, timestamp step 3000 @ 90 kHz, one packet per frame,
//!   marker set): an RFC 7741 payload descriptor `0x10` (S=1, PID=0), then a VP8 frame
//!   header (3-byte frame tag with the P bit cleared for keyframes, and for keyframes the
//!   `9d 01 2a` start code plus a 64x48 size), then `0xB0, counter (u64 big-endian)` and
//!   filler bytes derived from the counter. Frame 0, every [`KEYFRAME_INTERVAL`]-th frame,
//!   and the first frame after a PLI/FIR are keyframes.
//!
//! See [`payload_counter`], [`payload_intact`] and [`vp8_is_keyframe`].

#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT, MIME_TYPE_VP8,
};
use rtc::peer_connection::transport::RTCDtlsRole;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::shared::error::Error as RtcError;

use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpTransceiver};

/// Payload type the peer registers for Opus (48 kHz, 2 channels).
pub const OPUS_PT: u8 = 111;
/// Payload type the peer registers for VP8 (90 kHz).
pub const VP8_PT: u8 = 96;
/// First byte of every generated audio payload.
pub const AUDIO_MAGIC: u8 = 0xA0;
/// Byte that precedes the counter in every generated video payload.
pub const VIDEO_MAGIC: u8 = 0xB0;
/// Every this many video frames (starting with frame 0) is a keyframe.
pub const KEYFRAME_INTERVAL: u64 = 30;
/// Audio packetisation interval.
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// Video frame interval (~30 fps).
pub const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
/// Width and height written into generated VP8 keyframe headers.
pub const VP8_WIDTH: u16 = 64;
pub const VP8_HEIGHT: u16 = 48;

const AUDIO_FILLER: usize = 11;
const VIDEO_FILLER: usize = 24;
/// Total length of a generated audio payload.
pub const AUDIO_PAYLOAD_LEN: usize = 1 + 8 + AUDIO_FILLER;

/// How long `create_offer`/`answer` wait for ICE gathering to complete.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// Media kind of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio,
    Video,
}

/// One received RTP packet (after SRTP decryption), as the application saw it.
#[derive(Clone, Debug)]
pub struct RtpRecord {
    pub payload_type: u8,
    pub ssrc: u32,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Bytes,
    /// When the packet reached the application.
    pub received_at: Instant,
}

/// Everything received so far, per kind, in arrival order.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub audio: Vec<RtpRecord>,
    pub video: Vec<RtpRecord>,
}

impl Received {
    pub fn of(&self, kind: Kind) -> &[RtpRecord] {
        match kind {
            Kind::Audio => &self.audio,
            Kind::Video => &self.video,
        }
    }
}

/// How the peer behaves at the ICE/DTLS level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PeerMode {
    /// Full ICE agent; answers with `a=setup:active` (DTLS client), like Chrome. The default,
    /// and what a test against the gateway wants.
    #[default]
    Browser,
    /// ICE-lite (`a=ice-lite`) and, when answering, `a=setup:passive` (DTLS server): a
    /// stand-in for the gateway, so the self-test can exercise the `Browser` peer against an
    /// ICE-lite DTLS-server counterpart.
    IceLiteServer,
    /// Like `Browser`, but over ICE-TCP only (an active TCP candidate; no UDP at all): a
    /// browser whose network blocks UDP. It connects to the passive TCP candidates of the
    /// gateway's SDP.
    BrowserTcpOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Publisher,
    Subscriber,
}

/// State shared between the peer handle, the event handler and the spawned tasks.
struct Shared {
    received: Mutex<Received>,
    /// Bumped for every received packet; waiters subscribe to it.
    received_gen: watch::Sender<u64>,
    state: watch::Sender<RTCPeerConnectionState>,
    gathering: watch::Sender<RTCIceGatheringState>,
    candidates: Mutex<Vec<RTCIceCandidateInit>>,
    remote_tracks: Mutex<Vec<(Kind, Arc<dyn TrackRemote>)>>,
    track_tasks: Mutex<Vec<JoinHandle<()>>>,
    /// PLI/FIR packets received about our sent video.
    keyframe_requests: AtomicU64,
    force_keyframe: AtomicBool,
    /// The next sequence number of our audio stream, shared by the sending task and
    /// `send_audio_payload` so an injected packet is the stream's next one (SRTP's replay window
    /// drops one that falls behind it).
    audio_seq: AtomicU16,
    /// Load mode: received packets are counted, not kept (see [`TestPeer::count_only`]).
    count_only: AtomicBool,
    counted: [AtomicU64; 2],
    first_at: Mutex<Option<Instant>>,
}

impl Shared {
    fn new() -> Self {
        Self {
            received: Mutex::new(Received::default()),
            received_gen: watch::Sender::new(0),
            state: watch::Sender::new(RTCPeerConnectionState::New),
            gathering: watch::Sender::new(RTCIceGatheringState::New),
            candidates: Mutex::new(Vec::new()),
            remote_tracks: Mutex::new(Vec::new()),
            track_tasks: Mutex::new(Vec::new()),
            keyframe_requests: AtomicU64::new(0),
            force_keyframe: AtomicBool::new(false),
            audio_seq: AtomicU16::new(random_u64() as u16),
            count_only: AtomicBool::new(false),
            counted: [AtomicU64::new(0), AtomicU64::new(0)],
            first_at: Mutex::new(None),
        }
    }
}

struct Handler {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            self.shared.candidates.lock().unwrap().push(init);
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.shared.gathering.send_replace(state);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.shared.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        // This runs on the connection's driver: hand the track to a task and return at once.
        let kind = match track.kind().await {
            RtpCodecKind::Audio => Kind::Audio,
            RtpCodecKind::Video => Kind::Video,
            _ => return,
        };
        self.shared
            .remote_tracks
            .lock()
            .unwrap()
            .push((kind, Arc::clone(&track)));
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(packet) => {
                        if shared.count_only.load(Ordering::Relaxed) {
                            shared
                                .first_at
                                .lock()
                                .unwrap()
                                .get_or_insert_with(Instant::now);
                            shared.counted[kind as usize].fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        let record = RtpRecord {
                            payload_type: packet.header.payload_type,
                            ssrc: packet.header.ssrc,
                            sequence_number: packet.header.sequence_number,
                            timestamp: packet.header.timestamp,
                            marker: packet.header.marker,
                            payload: packet.payload.clone(),
                            received_at: Instant::now(),
                        };
                        {
                            let mut received = shared.received.lock().unwrap();
                            match kind {
                                Kind::Audio => received.audio.push(record),
                                Kind::Video => received.video.push(record),
                            }
                        }
                        shared.received_gen.send_modify(|n| *n += 1);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
        self.shared.track_tasks.lock().unwrap().push(task);
    }
}

/// Marks inbound keyframe requests (PLI, FIR) for delivery to the application.
///
/// In webrtc 0.21 inbound RTCP stops at the end of the interceptor chain unless an interceptor
/// tags it with `Attribute::DeliverToApplication`; without this a `TrackLocal::poll` never
/// yields anything. Other RTCP is left untagged (the NACK / report interceptors consume it).
#[derive(Default)]
struct KeyframeRequestsToApp {
    read_queue: std::collections::VecDeque<TaggedPacket>,
    write_queue: std::collections::VecDeque<TaggedPacket>,
}

fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestsToApp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = RtcError;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                msg.message.add(Attribute::DeliverToApplication);
            }
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        None
    }
}

impl Interceptor for KeyframeRequestsToApp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

fn random_ssrc() -> u32 {
    loop {
        let v = random_u64() as u32;
        if v != 0 {
            return v;
        }
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn vp8_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![
            RTCPFeedback {
                typ: "ccm".to_owned(),
                parameter: "fir".to_owned(),
            },
            RTCPFeedback {
                typ: "nack".to_owned(),
                parameter: String::new(),
            },
            RTCPFeedback {
                typ: "nack".to_owned(),
                parameter: "pli".to_owned(),
            },
        ],
    }
}

fn local_track(kind: RtpCodecKind, ssrc: u32, codec: RTCRtpCodec) -> Arc<TrackLocalStaticRTP> {
    let name = if kind == RtpCodecKind::Audio {
        "audio"
    } else {
        "video"
    };
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "test-peer-stream".to_owned(),
        format!("test-peer-{name}"),
        format!("test-peer-{name}-label"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )))
}

/// The local sending side of a publisher.
struct Outbound {
    audio: Arc<TrackLocalStaticRTP>,
    video: Arc<TrackLocalStaticRTP>,
    audio_transceiver: Arc<dyn RtpTransceiver>,
    video_transceiver: Arc<dyn RtpTransceiver>,
    audio_ssrc: u32,
    video_ssrc: u32,
}

/// One webrtc-rs `PeerConnection` plus the plumbing a test needs around it.
pub struct TestPeer {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    role: Role,
    outbound: Option<Outbound>,
    /// SSRC used as the sender SSRC of RTCP feedback we originate.
    rtcp_ssrc: u32,
    /// [`PeerMode::BrowserTcpOnly`].
    tcp_only: bool,
}

impl TestPeer {
    /// A peer that sends one Opus audio track and one VP8 video track on `sendonly`
    /// transceivers. Only a host candidate on 127.0.0.1, no STUN/TURN, no mDNS.
    pub async fn publisher() -> anyhow::Result<TestPeer> {
        Self::publisher_with(PeerMode::Browser).await
    }

    /// [`publisher`](Self::publisher) with an explicit [`PeerMode`].
    pub async fn publisher_with(mode: PeerMode) -> anyhow::Result<TestPeer> {
        let mut peer = Self::build(Role::Publisher, mode).await?;
        let audio_ssrc = random_ssrc();
        let mut video_ssrc = random_ssrc();
        while video_ssrc == audio_ssrc {
            video_ssrc = random_ssrc();
        }
        let audio = local_track(RtpCodecKind::Audio, audio_ssrc, opus_codec());
        let video = local_track(RtpCodecKind::Video, video_ssrc, vp8_codec());
        let sendonly = || RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: vec![],
            send_encodings: vec![],
        };
        let audio_transceiver = peer
            .pc
            .add_transceiver_from_track(Arc::clone(&audio) as Arc<dyn TrackLocal>, Some(sendonly()))
            .await
            .context("add sendonly audio transceiver")?;
        let video_transceiver = peer
            .pc
            .add_transceiver_from_track(Arc::clone(&video) as Arc<dyn TrackLocal>, Some(sendonly()))
            .await
            .context("add sendonly video transceiver")?;
        peer.outbound = Some(Outbound {
            audio,
            video,
            audio_transceiver,
            video_transceiver,
            audio_ssrc,
            video_ssrc,
        });
        Ok(peer)
    }

    /// A peer that only receives. As an answerer it accepts whatever audio/video the offer
    /// sends (its transceivers are created `recvonly` from the offer); as an offerer it offers
    /// one `recvonly` audio and one `recvonly` video section.
    pub async fn subscriber() -> anyhow::Result<TestPeer> {
        Self::subscriber_with(PeerMode::Browser).await
    }

    /// [`subscriber`](Self::subscriber) with an explicit [`PeerMode`].
    pub async fn subscriber_with(mode: PeerMode) -> anyhow::Result<TestPeer> {
        Self::build(Role::Subscriber, mode).await
    }

    async fn build(role: Role, mode: PeerMode) -> anyhow::Result<TestPeer> {
        let mut media_engine = MediaEngine::default();
        media_engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: opus_codec(),
                    payload_type: OPUS_PT,
                },
                RtpCodecKind::Audio,
            )
            .context("register Opus")?;
        media_engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: vp8_codec(),
                    payload_type: VP8_PT,
                },
                RtpCodecKind::Video,
            )
            .context("register VP8")?;

        let registry = configure_nack(Registry::new(), &mut media_engine);
        let registry = configure_rtcp_reports(registry);
        // Application-most slot, so every other interceptor has seen the RTCP first.
        let registry = registry.with(Slot::from(14_000), KeyframeRequestsToApp::default());

        let (lite, answering_dtls_role) = match mode {
            // Answer with a=setup:active like browsers do. Without it webrtc 0.21 answers an
            // ICE-lite offerer with a=setup:passive (it would be the DTLS server).
            PeerMode::Browser | PeerMode::BrowserTcpOnly => (false, RTCDtlsRole::Client),
            PeerMode::IceLiteServer => (true, RTCDtlsRole::Server),
        };
        let tcp_only = mode == PeerMode::BrowserTcpOnly;
        let network = if tcp_only {
            tcp_network_type()
        } else {
            network_type()
        };
        let setting_engine = SettingEngineBuilder::new()
            // Default is QueryOnly, which binds a multicast socket on port 5353.
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![network])
            .with_answering_dtls_role(answering_dtls_role)
            .with_lite(lite)
            .build();

        let configuration = RTCConfigurationBuilder::default()
            .with_ice_servers(vec![])
            .build();

        let shared = Arc::new(Shared::new());
        let pc = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(setting_engine)
            .with_handler(Arc::new(Handler {
                shared: Arc::clone(&shared),
            }))
            // Host candidates are derived from the bound sockets: binding exactly 127.0.0.1
            // yields exactly one loopback host candidate (a wildcard bind would skip loopback).
            .with_udp_addrs(if tcp_only {
                vec![]
            } else {
                vec![format!("{}:0", peer_ip())]
            })
            .with_tcp_addrs(if tcp_only {
                vec![format!("{}:0", peer_ip())]
            } else {
                vec![]
            })
            .build()
            .await
            .context("build webrtc PeerConnection")?;

        Ok(TestPeer {
            pc: Arc::new(pc),
            shared,
            role,
            outbound: None,
            rtcp_ssrc: random_ssrc(),
            tcp_only,
        })
    }

    /// The underlying connection, for anything this wrapper does not cover.
    pub fn peer_connection(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    /// SSRCs (audio, video) this peer sends with, if it is a publisher.
    pub fn send_ssrcs(&self) -> Option<(u32, u32)> {
        self.outbound.as_ref().map(|o| (o.audio_ssrc, o.video_ssrc))
    }

    /// Creates an offer, sets it as local description, waits for ICE gathering to complete
    /// and returns the local description's SDP (which then carries the candidates).
    pub async fn create_offer(&self) -> anyhow::Result<String> {
        if self.role == Role::Subscriber && self.pc.get_transceivers().await.is_empty() {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                self.pc
                    .add_transceiver_from_kind(
                        kind,
                        Some(RTCRtpTransceiverInit {
                            direction: RTCRtpTransceiverDirection::Recvonly,
                            streams: vec![],
                            send_encodings: vec![],
                        }),
                    )
                    .await
                    .with_context(|| format!("add recvonly {kind} transceiver"))?;
            }
        }
        let offer = self.pc.create_offer(None).await.context("create_offer")?;
        self.pc
            .set_local_description(offer)
            .await
            .context("set_local_description(offer)")?;
        self.local_sdp_after_gathering().await
    }

    /// Applies the remote answer to our offer.
    pub async fn set_remote_answer(&self, sdp: &str) -> anyhow::Result<()> {
        let desc = RTCSessionDescription::answer(sdp.to_owned()).context("parse remote answer")?;
        self.pc
            .set_remote_description(desc)
            .await
            .context("set_remote_description(answer)")?;
        self.connect_tcp_candidates(sdp).await
    }

    /// Over ICE-TCP only: the webrtc crate connects to a passive TCP candidate when it is
    /// trickled, not when it comes in a description, so those of `sdp` are added as trickled.
    async fn connect_tcp_candidates(&self, sdp: &str) -> anyhow::Result<()> {
        if !self.tcp_only {
            return Ok(());
        }
        for line in sdp.lines().map(str::trim) {
            if let Some(c) = line.strip_prefix("a=") {
                if c.starts_with("candidate:")
                    && c.contains(" tcp ")
                    && c.contains("tcptype passive")
                {
                    self.add_remote_candidate(c, Some("0"), Some(0)).await?;
                }
            }
        }
        Ok(())
    }

    /// Sets the remote offer, creates and sets the local answer and returns it at once, as a
    /// browser with trickle ICE does (candidates go separately, see
    /// [`TestPeer::local_candidates`]).
    pub async fn answer_now(&self, offer_sdp: &str) -> anyhow::Result<String> {
        let desc =
            RTCSessionDescription::offer(offer_sdp.to_owned()).context("parse remote offer")?;
        self.pc
            .set_remote_description(desc)
            .await
            .context("set_remote_description(offer)")?;
        let answer = self.pc.create_answer(None).await.context("create_answer")?;
        let sdp = answer.sdp.clone();
        self.pc
            .set_local_description(answer)
            .await
            .context("set_local_description(answer)")?;
        self.connect_tcp_candidates(offer_sdp).await?;
        Ok(sdp)
    }

    /// As [`TestPeer::answer_now`], then waits for ICE gathering to complete and returns the
    /// answer SDP with the candidates in it.
    pub async fn answer(&self, offer_sdp: &str) -> anyhow::Result<String> {
        self.answer_now(offer_sdp).await?;
        self.local_sdp_after_gathering().await
    }

    async fn local_sdp_after_gathering(&self) -> anyhow::Result<String> {
        let mut rx = self.shared.gathering.subscribe();
        // Best effort: with a single loopback socket gathering completes almost at once. If it
        // does not, the SDP is returned anyway and the candidates are in local_candidates().
        let _ = tokio::time::timeout(
            GATHER_TIMEOUT,
            rx.wait_for(|s| *s == RTCIceGatheringState::Complete),
        )
        .await;
        let desc = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| anyhow!("no local description after set_local_description"))?;
        Ok(desc.sdp)
    }

    /// Local ICE candidates gathered so far, as (`"candidate:..."`, sdpMid, sdpMLineIndex).
    /// They are also in the SDP returned by `create_offer`/`answer`. webrtc 0.21 reports them
    /// with an empty sdpMid; here they are attributed to the first m-section (BUNDLE).
    pub async fn local_candidates(&self) -> Vec<(String, String, u16)> {
        let mid = match self.pc.local_description().await {
            Some(desc) => desc
                .sdp
                .lines()
                .find_map(|l| l.trim().strip_prefix("a=mid:").map(str::to_owned))
                .unwrap_or_else(|| "0".to_owned()),
            None => "0".to_owned(),
        };
        self.shared
            .candidates
            .lock()
            .unwrap()
            .iter()
            .map(|c| (c.candidate.clone(), mid.clone(), 0))
            .collect()
    }

    /// Adds a remote (trickled) ICE candidate. `candidate` may carry the `candidate:` prefix
    /// or the full `a=candidate:` attribute form.
    pub async fn add_remote_candidate(
        &self,
        candidate: &str,
        sdp_mid: Option<&str>,
        sdp_mline_index: Option<u16>,
    ) -> anyhow::Result<()> {
        let candidate = candidate.trim();
        let candidate = candidate.strip_prefix("a=").unwrap_or(candidate);
        self.pc
            .add_ice_candidate(RTCIceCandidateInit {
                candidate: candidate.to_owned(),
                sdp_mid: sdp_mid.map(str::to_owned),
                sdp_mline_index,
                ..Default::default()
            })
            .await
            .with_context(|| format!("add_ice_candidate({candidate})"))
    }

    /// Current peer connection state.
    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.shared.state.borrow()
    }

    /// Waits until the peer connection state is `Connected` (ICE + DTLS done). Fails early
    /// if it becomes `Failed` or `Closed`.
    pub async fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut rx = self.shared.state.subscribe();
        let result = tokio::time::timeout(
            timeout,
            rx.wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Connected
                        | RTCPeerConnectionState::Failed
                        | RTCPeerConnectionState::Closed
                )
            }),
        )
        .await;
        match result {
            Ok(Ok(state)) if *state == RTCPeerConnectionState::Connected => Ok(()),
            Ok(Ok(state)) => bail!("peer connection ended in state {:?}", *state),
            Ok(Err(_)) => bail!("peer connection state channel closed"),
            Err(_) => bail!(
                "not connected within {timeout:?}; state is {:?}",
                self.connection_state()
            ),
        }
    }

    /// Starts sending generated Opus (every 20 ms) and VP8 (every 33 ms) RTP on the
    /// publisher's tracks, and starts answering PLI/FIR with keyframes. Call once the peer is
    /// connected (writes before the tracks are bound fail and are counted in
    /// [`SendHandle::write_errors`]). Sending stops when the handle is dropped.
    /// Sends one audio RTP packet with `payload` (a sequence number of its own), apart from
    /// [`start_sending`](Self::start_sending)'s stream.
    pub async fn send_audio_payload(&self, payload: Vec<u8>) -> anyhow::Result<()> {
        let out = self
            .outbound
            .as_ref()
            .ok_or_else(|| anyhow!("send_audio_payload on a peer that has no send tracks"))?;
        let pt = negotiated_pt(&out.audio_transceiver, MIME_TYPE_OPUS)
            .await
            .unwrap_or(OPUS_PT);
        let seq = self.shared.audio_seq.fetch_add(1, Ordering::SeqCst);
        let packet = rtp_packet(pt, out.audio_ssrc, seq, 0, false, payload);
        out.audio.write_rtp(packet).await?;
        Ok(())
    }

    /// Load mode: received packets are only counted (memory stays flat under load).
    pub fn count_only(&self) {
        self.shared.count_only.store(true, Ordering::SeqCst);
    }

    /// In load mode: when the first packet came, and the audio and video packets counted.
    pub fn counts(&self) -> (Option<Instant>, u64, u64) {
        (
            *self.shared.first_at.lock().unwrap(),
            self.shared.counted[Kind::Audio as usize].load(Ordering::Relaxed),
            self.shared.counted[Kind::Video as usize].load(Ordering::Relaxed),
        )
    }

    pub async fn start_sending(&self) -> anyhow::Result<SendHandle> {
        self.start_sending_at(VIDEO_INTERVAL, 0).await
    }

    /// Sends audio every 20 ms and video every `video_interval`, video payloads padded to
    /// `video_size` bytes (0: as generated).
    pub async fn start_sending_at(
        &self,
        video_interval: Duration,
        video_size: usize,
    ) -> anyhow::Result<SendHandle> {
        let out = self
            .outbound
            .as_ref()
            .ok_or_else(|| anyhow!("start_sending on a peer that has no send tracks"))?;
        let audio_pt = negotiated_pt(&out.audio_transceiver, MIME_TYPE_OPUS)
            .await
            .unwrap_or(OPUS_PT);
        let video_pt = negotiated_pt(&out.video_transceiver, MIME_TYPE_VP8)
            .await
            .unwrap_or(VP8_PT);

        let counters = Arc::new(SendCounters::default());
        let mut tasks = Vec::new();

        // Keyframe requests about our video track (PLI/FIR, tagged for us by the interceptor).
        {
            let video = Arc::clone(&out.video);
            let shared = Arc::clone(&self.shared);
            tasks.push(tokio::spawn(async move {
                while let Some(event) = video.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(packets) = event {
                        let n = packets
                            .iter()
                            .filter(|p| is_keyframe_request(p.as_ref()))
                            .count() as u64;
                        if n > 0 {
                            shared.keyframe_requests.fetch_add(n, Ordering::SeqCst);
                            shared.force_keyframe.store(true, Ordering::SeqCst);
                        }
                    }
                }
            }));
        }

        // Audio.
        {
            let track = Arc::clone(&out.audio);
            let ssrc = out.audio_ssrc;
            let counters = Arc::clone(&counters);
            let shared = Arc::clone(&self.shared);
            tasks.push(tokio::spawn(async move {
                let ts0 = random_u64() as u32;
                let mut ticker = tokio::time::interval(AUDIO_INTERVAL);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n: u64 = 0;
                loop {
                    ticker.tick().await;
                    let packet = rtp_packet(
                        audio_pt,
                        ssrc,
                        shared.audio_seq.fetch_add(1, Ordering::SeqCst),
                        ts0.wrapping_add((n as u32).wrapping_mul(960)),
                        n == 0,
                        audio_payload(n),
                    );
                    match track.write_rtp(packet).await {
                        Ok(()) => counters.audio.fetch_add(1, Ordering::SeqCst),
                        Err(_) => counters.errors.fetch_add(1, Ordering::SeqCst),
                    };
                    n += 1;
                }
            }));
        }

        // Video.
        {
            let track = Arc::clone(&out.video);
            let ssrc = out.video_ssrc;
            let counters = Arc::clone(&counters);
            let shared = Arc::clone(&self.shared);
            tasks.push(tokio::spawn(async move {
                let seq0 = random_u64() as u16;
                let ts0 = random_u64() as u32;
                let mut ticker = tokio::time::interval(video_interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n: u64 = 0;
                loop {
                    ticker.tick().await;
                    let forced = shared.force_keyframe.swap(false, Ordering::SeqCst);
                    let keyframe = is_regular_keyframe(n) || forced;
                    let packet = rtp_packet(
                        video_pt,
                        ssrc,
                        seq0.wrapping_add(n as u16),
                        ts0.wrapping_add((n as u32).wrapping_mul(3000)),
                        true,
                        {
                            let mut p = video_payload(n, keyframe);
                            if video_size > p.len() {
                                p.resize(video_size, 0);
                            }
                            p
                        },
                    );
                    match track.write_rtp(packet).await {
                        Ok(()) => {
                            counters.video.fetch_add(1, Ordering::SeqCst);
                            if keyframe {
                                counters.keyframes.fetch_add(1, Ordering::SeqCst);
                            }
                            if forced {
                                counters.forced_keyframes.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Err(_) => {
                            counters.errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    n += 1;
                }
            }));
        }

        Ok(SendHandle { tasks, counters })
    }

    /// Number of PLI/FIR packets received about the video this peer sends (counted while a
    /// [`SendHandle`] is alive).
    pub fn keyframe_requests(&self) -> u64 {
        self.shared.keyframe_requests.load(Ordering::SeqCst)
    }

    /// Snapshot of everything received so far.
    pub fn received(&self) -> Received {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `n_packets` packets of `kind` have been received in total, and
    /// returns all packets of that kind received so far.
    pub async fn wait_received(
        &self,
        kind: Kind,
        n_packets: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<RtpRecord>> {
        self.wait_received_until(kind, timeout, |records| records.len() >= n_packets)
            .await
            .with_context(|| format!("waiting for {n_packets} {kind:?} packets"))
    }

    /// Waits until `done` holds for the packets of `kind` received so far, and returns them.
    pub async fn wait_received_until(
        &self,
        kind: Kind,
        timeout: Duration,
        mut done: impl FnMut(&[RtpRecord]) -> bool,
    ) -> anyhow::Result<Vec<RtpRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.shared.received_gen.subscribe();
        loop {
            {
                let received = self.shared.received.lock().unwrap();
                let records = received.of(kind);
                if done(records) {
                    return Ok(records.to_vec());
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("receive channel closed"),
                Err(_) => {
                    let got = self.shared.received.lock().unwrap().of(kind).len();
                    bail!(
                        "condition not met within {timeout:?}: {got} {kind:?} packets received, \
                         connection state {:?}",
                        self.connection_state()
                    );
                }
            }
        }
    }

    /// Sends an RTCP PLI for every received video track.
    pub async fn send_pli(&self) -> anyhow::Result<()> {
        let tracks: Vec<Arc<dyn TrackRemote>> = self
            .shared
            .remote_tracks
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, _)| *kind == Kind::Video)
            .map(|(_, t)| Arc::clone(t))
            .collect();
        if tracks.is_empty() {
            bail!("send_pli: no remote video track yet (it appears with the first video packet)");
        }
        for track in tracks {
            let ssrcs = track.ssrcs().await;
            let ssrc = match ssrcs.first() {
                Some(s) => *s,
                None => match self.received().video.last() {
                    Some(r) => r.ssrc,
                    None => bail!("send_pli: remote video SSRC unknown"),
                },
            };
            let pli = PictureLossIndication {
                sender_ssrc: self.rtcp_ssrc,
                media_ssrc: ssrc,
            };
            track
                .write_rtcp(vec![Box::new(pli)])
                .await
                .context("write PLI")?;
        }
        Ok(())
    }

    /// Closes the peer connection (idempotent) and stops the receive tasks.
    pub async fn close(&self) -> anyhow::Result<()> {
        let result = self.pc.close().await.context("close peer connection");
        for task in self.shared.track_tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        result
    }
}

async fn negotiated_pt(transceiver: &Arc<dyn RtpTransceiver>, mime: &str) -> Option<u8> {
    let sender = transceiver.sender().await.ok()??;
    let params = sender.get_parameters().await.ok()?;
    params
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
        .map(|c| c.payload_type)
}

fn rtp_packet(
    payload_type: u8,
    ssrc: u32,
    sequence_number: u16,
    timestamp: u32,
    marker: bool,
    payload: Vec<u8>,
) -> rtc::rtp::packet::Packet {
    rtc::rtp::packet::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            marker,
            payload_type,
            sequence_number,
            timestamp,
            ssrc,
            ..Default::default()
        },
        payload: Bytes::from(payload),
    }
}

fn filler(counter: u64, len: usize) -> impl Iterator<Item = u8> {
    let base = counter.to_be_bytes()[7];
    (0..len).map(move |i| base.wrapping_add(i as u8).wrapping_mul(31) ^ 0x5a)
}

/// TCP over the family of [`peer_ip`].
fn tcp_network_type() -> NetworkType {
    if peer_ip().contains(':') {
        NetworkType::Tcp6
    } else {
        NetworkType::Tcp4
    }
}

/// UDP over the family of [`peer_ip`].
fn network_type() -> NetworkType {
    if peer_ip().contains(':') {
        NetworkType::Udp6
    } else {
        NetworkType::Udp4
    }
}

/// The address peers bind: 127.0.0.1, or `SYLK_PEER_IP` (the load tool against a server that
/// offers no loopback candidate, such as Janus: the machine's own address, still local).
fn peer_ip() -> String {
    let ip = std::env::var("SYLK_PEER_IP").unwrap_or_else(|_| "127.0.0.1".into());
    // As the host part of `ip:port`.
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip
    }
}

/// The generated audio payload for `counter`.
pub fn audio_payload(counter: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(AUDIO_PAYLOAD_LEN);
    p.push(AUDIO_MAGIC);
    p.extend_from_slice(&counter.to_be_bytes());
    p.extend(filler(counter, AUDIO_FILLER));
    p
}

/// The generated VP8 RTP payload (descriptor + frame) for `counter`.
pub fn video_payload(counter: u64, keyframe: bool) -> Vec<u8> {
    // RFC 7741 payload descriptor: X=0, N=0, S=1 (start of partition), PID=0.
    let mut p = vec![0x10];
    let body_len = 1 + 8 + VIDEO_FILLER;
    let header_len = if keyframe { 10 } else { 3 };
    // first_part_size: everything after the frame header (size_0..2 in RFC 6386 §9.1).
    let size = body_len as u32;
    // Frame tag: bit0 P (0 = keyframe), bits1-3 version 0, bit4 show_frame, bits5-23 size.
    let tag = ((size & 0x7ffff) << 5) | (1 << 4) | u32::from(!keyframe);
    p.extend_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        p.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        p.extend_from_slice(&(VP8_WIDTH & 0x3fff).to_le_bytes());
        p.extend_from_slice(&(VP8_HEIGHT & 0x3fff).to_le_bytes());
    }
    debug_assert_eq!(p.len(), 1 + header_len);
    p.push(VIDEO_MAGIC);
    p.extend_from_slice(&counter.to_be_bytes());
    p.extend(filler(counter, VIDEO_FILLER));
    p
}

/// Offset of the VP8 payload header (the frame data) after the RFC 7741 descriptor.
fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
    let b0 = *payload.first()?;
    let mut idx = 1;
    if b0 & 0x80 != 0 {
        // X: extension byte with I, L, T, K flags.
        let x = *payload.get(idx)?;
        idx += 1;
        if x & 0x80 != 0 {
            // I: PictureID, 7 or 15 bits (M flag).
            let pid = *payload.get(idx)?;
            idx += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            // L: TL0PICIDX.
            idx += 1;
        }
        if x & 0x30 != 0 {
            // T and/or K: one byte with TID/Y/KEYIDX.
            idx += 1;
        }
    }
    (idx <= payload.len()).then_some(idx)
}

/// Whether the publisher's video frame `counter` is one of the regular keyframes (frame 0
/// and every [`KEYFRAME_INTERVAL`]-th frame).
pub fn is_regular_keyframe(counter: u64) -> bool {
    // Not `is_multiple_of`: that needs Rust 1.87 and the workspace MSRV is 1.85.
    counter.checked_rem(KEYFRAME_INTERVAL) == Some(0)
}

/// Whether a VP8 RTP payload (RFC 7741) starts a keyframe: the descriptor has S=1 and
/// PID=0, the frame tag's P bit is 0, and the keyframe start code `9d 01 2a` follows.
pub fn vp8_is_keyframe(payload: &[u8]) -> bool {
    let Some(b0) = payload.first() else {
        return false;
    };
    if b0 & 0x10 == 0 || b0 & 0x07 != 0 {
        return false;
    }
    let Some(idx) = vp8_descriptor_len(payload) else {
        return false;
    };
    let frame = &payload[idx..];
    frame.len() >= 10 && frame[0] & 0x01 == 0 && frame[3..6] == [0x9d, 0x01, 0x2a]
}

/// Where the counter block (`magic, u64 BE`) of a generated payload starts, and its magic.
fn counter_offset(payload: &[u8]) -> Option<(usize, u8)> {
    if payload.len() == AUDIO_PAYLOAD_LEN && payload[0] == AUDIO_MAGIC {
        return Some((0, AUDIO_MAGIC));
    }
    let idx = vp8_descriptor_len(payload)?;
    let frame = payload.get(idx..)?;
    let header = if frame.first()? & 0x01 == 0 { 10 } else { 3 };
    Some((idx + header, VIDEO_MAGIC))
}

/// Decodes the counter a [`TestPeer`] publisher wrote into an audio or video payload.
pub fn payload_counter(payload: &[u8]) -> Option<u64> {
    let (off, magic) = counter_offset(payload)?;
    if *payload.get(off)? != magic {
        return None;
    }
    let bytes: [u8; 8] = payload.get(off + 1..off + 9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Whether a payload is byte-for-byte what the publisher generated for its counter.
pub fn payload_intact(payload: &[u8]) -> bool {
    let Some(counter) = payload_counter(payload) else {
        return false;
    };
    if payload.len() == AUDIO_PAYLOAD_LEN && payload[0] == AUDIO_MAGIC {
        return payload == audio_payload(counter).as_slice();
    }
    let Some(idx) = vp8_descriptor_len(payload) else {
        return false;
    };
    // Compare the VP8 frame (after the descriptor, which a forwarder may legitimately rewrite).
    let keyframe = payload[idx] & 0x01 == 0;
    let expected = video_payload(counter, keyframe);
    payload[idx..] == expected[1..]
}

#[derive(Default)]
struct SendCounters {
    audio: AtomicU64,
    video: AtomicU64,
    keyframes: AtomicU64,
    forced_keyframes: AtomicU64,
    errors: AtomicU64,
}

/// Handle on the sending tasks started by [`TestPeer::start_sending`]; dropping it stops them.
pub struct SendHandle {
    tasks: Vec<JoinHandle<()>>,
    counters: Arc<SendCounters>,
}

impl SendHandle {
    /// Audio packets handed to the connection so far.
    pub fn audio_sent(&self) -> u64 {
        self.counters.audio.load(Ordering::SeqCst)
    }
    /// Video packets (= frames) handed to the connection so far.
    pub fn video_sent(&self) -> u64 {
        self.counters.video.load(Ordering::SeqCst)
    }
    /// Keyframes among them.
    pub fn keyframes_sent(&self) -> u64 {
        self.counters.keyframes.load(Ordering::SeqCst)
    }
    /// Keyframes sent in answer to a PLI/FIR (a forced keyframe may coincide with a
    /// regular one).
    pub fn forced_keyframes_sent(&self) -> u64 {
        self.counters.forced_keyframes.load(Ordering::SeqCst)
    }
    /// `write_rtp` calls that failed (e.g. before the track was bound). Note that a packet
    /// the `rtc` core rejects (wrong PT/SSRC) is only logged by the driver, not reported here.
    pub fn write_errors(&self) -> u64 {
        self.counters.errors.load(Ordering::SeqCst)
    }
    /// Stops sending.
    pub fn stop(self) {}
}

impl Drop for SendHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Payload type the [`TestPeer::caller`] registers for PCMA (static, RFC 3551).
pub const PCMA_PT: u8 = 8;
/// Payload type the caller registers for PCMU (static, RFC 3551).
pub const PCMU_PT: u8 = 0;
/// Payload type the caller registers for telephone-event/8000 (RFC 4733).
pub const TELEPHONE_EVENT_PT: u8 = 101;
/// Timestamp step of a 20 ms G.711 packet at 8 kHz.
const G711_TIMESTAMP_STEP: u32 = 160;

fn g711_codec(mime: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn telephone_event_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_TELEPHONE_EVENT.to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: "0-16".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// The sending side of a [`TestPeer::caller`]: one PCMA track on a `sendrecv` audio
/// transceiver.
pub struct CallAudio {
    track: Arc<TrackLocalStaticRTP>,
    transceiver: Arc<dyn RtpTransceiver>,
    ssrc: u32,
}

impl CallAudio {
    /// The SSRC of the sent audio.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Starts sending generated audio payloads ([`audio_payload`], so [`payload_intact`]
    /// checks them) as PCMA every 20 ms (timestamp step 160 at 8 kHz). Call once the peer is
    /// connected. Sending stops when the handle is dropped.
    pub async fn start_sending(&self) -> anyhow::Result<SendHandle> {
        let pt = negotiated_pt(&self.transceiver, MIME_TYPE_PCMA)
            .await
            .unwrap_or(PCMA_PT);
        let counters = Arc::new(SendCounters::default());
        let track = Arc::clone(&self.track);
        let ssrc = self.ssrc;
        let task = {
            let counters = Arc::clone(&counters);
            tokio::spawn(async move {
                let seq0 = random_u64() as u16;
                let ts0 = random_u64() as u32;
                let mut ticker = tokio::time::interval(AUDIO_INTERVAL);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n: u64 = 0;
                loop {
                    ticker.tick().await;
                    let packet = rtp_packet(
                        pt,
                        ssrc,
                        seq0.wrapping_add(n as u16),
                        ts0.wrapping_add((n as u32).wrapping_mul(G711_TIMESTAMP_STEP)),
                        n == 0,
                        audio_payload(n),
                    );
                    match track.write_rtp(packet).await {
                        Ok(()) => counters.audio.fetch_add(1, Ordering::SeqCst),
                        Err(_) => counters.errors.fetch_add(1, Ordering::SeqCst),
                    };
                    n += 1;
                }
            })
        };
        Ok(SendHandle {
            tasks: vec![task],
            counters,
        })
    }
}

impl TestPeer {
    /// A browser-like caller of a 1:1 call: one `sendrecv` audio transceiver offering Opus
    /// (PT 111), PCMA (8), PCMU (0) and telephone-event/8000 (101), sending PCMA through the
    /// returned [`CallAudio`]. Same network rules as the other peers (one loopback host
    /// candidate, no STUN/TURN, no mDNS).
    pub async fn caller() -> anyhow::Result<(TestPeer, CallAudio)> {
        let mut media_engine = MediaEngine::default();
        for (codec, pt) in [
            (opus_codec(), OPUS_PT),
            (g711_codec(MIME_TYPE_PCMA), PCMA_PT),
            (g711_codec(MIME_TYPE_PCMU), PCMU_PT),
            (telephone_event_codec(), TELEPHONE_EVENT_PT),
        ] {
            let name = codec.mime_type.clone();
            media_engine
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: codec,
                        payload_type: pt,
                    },
                    RtpCodecKind::Audio,
                )
                .with_context(|| format!("register {name}"))?;
        }
        // Video too, for the re-INVITEs that add it to a call.
        media_engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: vp8_codec(),
                    payload_type: VP8_PT,
                },
                RtpCodecKind::Video,
            )
            .context("register VP8")?;
        let registry = configure_nack(Registry::new(), &mut media_engine);
        let registry = configure_rtcp_reports(registry);
        let setting_engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![network_type()])
            .with_answering_dtls_role(RTCDtlsRole::Client)
            .build();
        let configuration = RTCConfigurationBuilder::default()
            .with_ice_servers(vec![])
            .build();
        let shared = Arc::new(Shared::new());
        let pc = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(setting_engine)
            .with_handler(Arc::new(Handler {
                shared: Arc::clone(&shared),
            }))
            .with_udp_addrs(vec![format!("{}:0", peer_ip())])
            .build()
            .await
            .context("build webrtc PeerConnection")?;
        let peer = TestPeer {
            pc: Arc::new(pc),
            shared,
            role: Role::Publisher,
            outbound: None,
            rtcp_ssrc: random_ssrc(),
            tcp_only: false,
        };
        let ssrc = random_ssrc();
        let track = local_track(RtpCodecKind::Audio, ssrc, g711_codec(MIME_TYPE_PCMA));
        let transceiver = peer
            .pc
            .add_transceiver_from_track(
                Arc::clone(&track) as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendrecv,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .await
            .context("add sendrecv audio transceiver")?;
        // Without preferences the transceiver offers only its track's codec.
        transceiver
            .set_codec_preferences(
                [
                    (opus_codec(), OPUS_PT),
                    (g711_codec(MIME_TYPE_PCMA), PCMA_PT),
                    (g711_codec(MIME_TYPE_PCMU), PCMU_PT),
                    (telephone_event_codec(), TELEPHONE_EVENT_PT),
                ]
                .into_iter()
                .map(|(rtp_codec, payload_type)| RTCRtpCodecParameters {
                    rtp_codec,
                    payload_type,
                })
                .collect(),
            )
            .await
            .context("set the caller's codec preferences")?;
        Ok((
            peer,
            CallAudio {
                track,
                transceiver,
                ssrc,
            },
        ))
    }
}
