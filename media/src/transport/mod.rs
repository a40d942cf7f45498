//! One browser's transport: its webrtc-rs `rtc` peer connection ([`peer`]: ICE-lite,
//! DTLS-SRTP, BUNDLE), the in-place SRTP send path of forwarded media ([`send`], [`srtp`]),
//! ICE consent and the addresses it has proved. It turns a datagram into what the core
//! routes ([`Drained`]: state, RTP received, RTCP feedback) and answers NACKs itself.

pub mod candidates;
pub mod codecs;
pub mod peer;
pub mod send;
pub mod srtp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tracing::debug;

use crate::ids::{Kind, Via, WallClock};
use crate::outbox::Outbox;
use peer::{InTrack, Peer};
use send::{Fast, FastOut};

/// Remote addresses one peer may be reached from at once (ICE may try a few candidate
/// pairs); a new one beyond it replaces the oldest.
pub const MAX_ADDRS_PER_PEER: usize = 8;

/// What a subscriber's NACKs may make the transport send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxLimits {
    /// Packets sent again for one RTCP datagram (however many NACKs it carries).
    pub per_datagram: usize,
    /// Packets sent again to one subscriber per second.
    pub per_second: u32,
}

impl Default for RtxLimits {
    fn default() -> Self {
        RtxLimits {
            per_datagram: 128,
            per_second: 200,
        }
    }
}

/// A subscriber's retransmissions in the current one-second window.
#[derive(Debug, Default)]
struct RtxBudget {
    window: Option<Instant>,
    sent: u32,
}

impl RtxBudget {
    /// Takes one retransmission at `now` if the window has room.
    fn take(&mut self, now: Instant, per_second: u32) -> bool {
        if self
            .window
            .is_none_or(|w| now.saturating_duration_since(w) >= Duration::from_secs(1))
        {
            self.window = Some(now);
            self.sent = 0;
        }
        if self.sent >= per_second {
            return false;
        }
        self.sent += 1;
        true
    }
}

/// The first RTX sequence number of a peer: random, from its random RTX SSRC.
fn rtx_first(peer: &Peer) -> u16 {
    (peer.out_video.and_then(|t| t.rtx_ssrc).unwrap_or(0) >> 16) as u16
}

/// What became of a packet handed to [`Transport::forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Yes,
    /// The browser did not ask for this kind.
    NotWanted,
    /// No send path yet (DTLS not done) or protection failed.
    Dropped,
}

/// What one drain of a transport produced for the core.
#[derive(Debug, Default)]
pub struct Drained {
    /// ICE and DTLS came up (true) or the connection failed or closed (false).
    pub state: Option<bool>,
    /// RTP received from the browser, in order (reused buffer).
    pub rtp: Vec<(Kind, rtc::rtp::Packet)>,
    /// The browser asked for a keyframe (PLI or FIR).
    pub keyframe_wanted: bool,
    /// The browser's latest receive estimate (REMB), bits/s.
    pub estimate: Option<u64>,
    /// Video sequence numbers the browser's NACKs ask for, within the RTX budget (reused).
    pub nacks: Vec<u16>,
}

impl Drained {
    pub fn clear(&mut self) {
        self.state = None;
        self.rtp.clear();
        self.keyframe_wanted = false;
        self.estimate = None;
        self.nacks.clear();
    }
}

/// How a packet `rtc` sends travels (the protocol of its selected pair or its check).
fn via_of(t: &TransportContext) -> Via {
    match t.transport_protocol {
        TransportProtocol::TCP => Via::Tcp,
        _ => Via::Udp,
    }
}

/// One browser's transport and what the core keeps about it.
pub struct Transport {
    pub peer: Peer,
    pub connected: bool,
    pub last_consent: Instant,
    /// Remote addresses its authenticated checks came from (and over what).
    pub addrs: Vec<(Via, SocketAddr)>,
    /// Where `rtc` last sent DTLS or SRTP to (the selected candidate pair's remote side).
    pub media_addr: Option<(Via, SocketAddr)>,
    /// The allocation-free send path of media to the browser.
    pub send: Fast,
    rtx_budget: RtxBudget,
    /// Publishers: the receiver of their video (keyframe requests are sent on it).
    pub video_receiver: Option<RTCRtpReceiverId>,
    /// Publishers: the cap on their sending rate (bits/s) the room gives them, told to the
    /// browser by REMB (the room's `max_bitrate` shared among its publishers).
    pub max_bitrate: Option<u64>,
    /// When `rtc` wants its timeout handled.
    pub timeout: Option<Instant>,
    /// When it was made, when it came up (join-time trace).
    pub created: Instant,
    /// `rtc` has the browser's description (its ICE credentials): false for an offer of
    /// ours until the answer comes.
    pub remote_known: bool,
    /// Authentic checks that came before the answer (the latest per address), given to
    /// `rtc` when the answer comes: at most [`MAX_EARLY_CHECKS`].
    pub early: Vec<(SocketAddr, Via, Vec<u8>)>,
}

/// Early connectivity checks kept per peer until its answer.
pub const MAX_EARLY_CHECKS: usize = 8;

impl Transport {
    pub fn new(peer: Peer, now: Instant) -> Transport {
        Transport {
            peer,
            connected: false,
            last_consent: now,
            addrs: Vec::new(),
            media_addr: None,
            send: Fast::default(),
            rtx_budget: RtxBudget::default(),
            video_receiver: None,
            max_bitrate: None,
            timeout: None,
            created: now,
            remote_known: false,
            early: Vec::new(),
        }
    }

    /// Feeds one datagram (already attributed to this transport) to `rtc`.
    pub fn handle_read(
        &mut self,
        now: Instant,
        via: Via,
        local_addr: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(), String> {
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: match via {
                    Via::Udp => TransportProtocol::UDP,
                    Via::Tcp => TransportProtocol::TCP,
                },
            },
            message: BytesMut::from(data),
        };
        self.peer.pc.handle_read(msg).map_err(|e| e.to_string())
    }

    /// Runs `rtc`'s timers if due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.peer.pc.handle_timeout(now) {
            debug!(error = %e, "timeout handling failed");
        }
    }

    /// Everything `rtc` has to say: datagrams out (into `out` from the socket `local`),
    /// state, tracks, RTP and RTCP (the NACKed sequence numbers within `rtx`).
    pub fn drain(
        &mut self,
        now: Instant,
        local: SocketAddr,
        rtx: RtxLimits,
        out: &mut Outbox,
        got: &mut Drained,
    ) {
        let pc = &mut self.peer.pc;
        while let Some(w) = pc.poll_write() {
            // Not STUN (answered wherever a check came from): DTLS or SRTP, sent on the
            // selected pair.
            let via = via_of(&w.transport);
            if w.message.first().is_some_and(|b| *b >= 20) {
                self.media_addr = Some((via, w.transport.peer_addr));
            }
            out.push_via(via, local, w.transport.peer_addr, &w.message);
        }
        while let Some(event) = pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                    debug!(%state, "peer connection state");
                    match state {
                        RTCPeerConnectionState::Connected => got.state = Some(true),
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                            got.state = Some(false)
                        }
                        _ => {}
                    }
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let kind = pc
                        .rtp_receiver(init.receiver_id)
                        .map(|r| Kind::from(r.track().kind()))
                        .unwrap_or(Kind::Audio);
                    if kind == Kind::Video {
                        self.video_receiver = Some(init.receiver_id);
                    }
                    self.peer.in_tracks.insert(
                        init.track_id.to_string(),
                        InTrack {
                            receiver: init.receiver_id,
                            kind,
                            ssrc: init.ssrc,
                            rid: init.rid.map(|r| r.to_string()),
                        },
                    );
                }
                _ => {}
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = pc.poll_read() {
            match message {
                RTCMessage::RtpPacket(track_id, packet) => {
                    if let Some(t) = self.peer.in_tracks.get(track_id.as_str()) {
                        got.rtp.push((t.kind, packet));
                    }
                }
                RTCMessage::RtcpPacket(_, packets) => {
                    // One datagram's packets: its NACKs share one budget.
                    let mut rtx_left = rtx.per_datagram;
                    for p in &packets {
                        let any = p.as_any();
                        got.keyframe_wanted |=
                            any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>();
                        if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                            got.estimate = Some(remb.bitrate as u64);
                        }
                        if let (Some(nack), Some(track)) = (
                            any.downcast_ref::<TransportLayerNack>(),
                            self.peer.out_video.filter(|t| t.rtx_ssrc.is_some()),
                        ) {
                            for seq in FastOut::lost(nack, &track) {
                                if rtx_left == 0 || !self.rtx_budget.take(now, rtx.per_second) {
                                    break;
                                }
                                rtx_left -= 1;
                                got.nacks.push(seq);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.timeout = pc.poll_timeout();
    }

    /// The RTP header and payload of a forwarded packet, protected, into `out`, with the
    /// payload type this browser negotiated for the kind.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &mut self,
        kind: Kind,
        marker: bool,
        seq: u16,
        ts: u32,
        payload: &[u8],
        now: Instant,
        local: SocketAddr,
        scratch: &mut Vec<u8>,
        out: &mut Outbox,
    ) -> Sent {
        let Some(pt) = self.peer.out_track(kind).map(|t| t.payload_type) else {
            return Sent::NotWanted;
        };
        self.send_rtp(
            kind,
            (marker, pt, seq, ts),
            payload,
            now,
            local,
            scratch,
            out,
        )
    }

    /// One RTP packet toward the browser (`header`: marker, payload type, sequence number,
    /// timestamp), protected in place, into `out`: forwarded room media, or a call's RTP as
    /// the bridge rewrote it.
    #[allow(clippy::too_many_arguments)]
    pub fn send_rtp(
        &mut self,
        kind: Kind,
        header: (bool, u8, u16, u32),
        payload: &[u8],
        now: Instant,
        local: SocketAddr,
        scratch: &mut Vec<u8>,
        out: &mut Outbox,
    ) -> Sent {
        let Some(track) = self.peer.out_track(kind) else {
            return Sent::NotWanted;
        };
        let (Some(fast), Some((via, to))) = (
            self.send.ready(&self.peer.pc, rtx_first(&self.peer)),
            self.media_addr,
        ) else {
            return Sent::Dropped;
        };
        match fast.rtp(kind, &track, header, payload, now, scratch) {
            Ok(()) => {
                out.push_via(via, local, to, scratch);
                Sent::Yes
            }
            Err(e) => {
                debug!(error = %e, "RTP toward the browser not protected");
                Sent::Dropped
            }
        }
    }

    /// Sends video packet `seq` again over RTX (header fields as first sent); false when
    /// there is no send path or no RTX stream.
    pub fn retransmit(
        &mut self,
        header: (u16, u32, bool),
        payload: &[u8],
        local: SocketAddr,
        scratch: &mut Vec<u8>,
        out: &mut Outbox,
    ) -> bool {
        let (Some(track), Some((via, to))) = (self.peer.out_video, self.media_addr) else {
            return false;
        };
        let Some(fast) = self.send.get() else {
            return false;
        };
        if fast.retransmission(&track, header, payload, scratch) {
            out.push_via(via, local, to, scratch);
            true
        } else {
            false
        }
    }

    /// Tells a publisher's browser its sending cap ([`Transport::max_bitrate`]) with an RTCP
    /// REMB (draft-alvestrand-rmcat-remb) for its video SSRCs: browsers take the estimate as
    /// the most they may send, also when they estimate the bandwidth themselves.
    pub fn send_remb(&mut self, now: Instant) -> bool {
        let (Some(bitrate), Some(receiver)) = (self.max_bitrate, self.video_receiver) else {
            return false;
        };
        let mut ssrcs: Vec<u32> = self
            .peer
            .in_tracks
            .values()
            .filter(|t| t.kind == Kind::Video && t.ssrc != 0)
            .map(|t| t.ssrc)
            .collect();
        ssrcs.sort_unstable();
        ssrcs.dedup();
        let remb = ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 0,
            bitrate: bitrate as f32,
            ssrcs,
        };
        match self.peer.pc.rtp_receiver(receiver) {
            Some(mut r) => r.write_rtcp(now, vec![Box::new(remb)]).is_ok(),
            None => false,
        }
    }

    /// Sends a PLI for `ssrc` on the publisher's video receiver.
    pub fn request_keyframe(&mut self, ssrc: u32, now: Instant) -> bool {
        let Some(receiver) = self.video_receiver else {
            return false;
        };
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: ssrc,
        };
        match self.peer.pc.rtp_receiver(receiver) {
            Some(mut r) => match r.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => true,
                Err(e) => {
                    debug!(error = %e, "PLI not sent");
                    false
                }
            },
            None => false,
        }
    }

    /// RTCP sender reports of the media forwarded on the allocation-free path (`rtc` counts
    /// only what goes through its own send path).
    pub fn send_reports(
        &mut self,
        now: Instant,
        clock: &WallClock,
        local: SocketAddr,
        out: &mut Outbox,
    ) {
        let Some(fast) = self.send.get() else {
            return;
        };
        let tracks = [
            (Kind::Audio, self.peer.out_audio),
            (Kind::Video, self.peer.out_video),
        ];
        let pc = &mut self.peer.pc;
        for (kind, track) in tracks {
            let Some(track) = track else {
                continue;
            };
            let Some(sr) = fast.sender_report(kind, &track, clock, now) else {
                continue;
            };
            if let Some(mut sender) = pc.rtp_sender(track.sender) {
                if let Err(e) = sender.write_rtcp(now, vec![Box::new(sr)]) {
                    debug!(error = %e, "sender report not sent");
                }
            }
        }
        while let Some(w) = pc.poll_write() {
            out.push_via(
                via_of(&w.transport),
                local,
                w.transport.peer_addr,
                &w.message,
            );
        }
        self.timeout = pc.poll_timeout();
    }

    /// Sends what `rtc` has queued (a PLI written on a receiver), without reading anything.
    pub fn flush(&mut self, local: SocketAddr, out: &mut Outbox) {
        while let Some(w) = self.peer.pc.poll_write() {
            out.push_via(
                via_of(&w.transport),
                local,
                w.transport.peer_addr,
                &w.message,
            );
        }
        self.timeout = self.peer.pc.poll_timeout();
    }

    /// Closes the connection (DTLS close_notify goes out).
    pub fn close(&mut self, local: SocketAddr, out: &mut Outbox) {
        let _ = self.peer.pc.close();
        while let Some(w) = self.peer.pc.poll_write() {
            out.push_via(
                via_of(&w.transport),
                local,
                w.transport.peer_addr,
                &w.message,
            );
        }
    }

    /// The simulcast rid of a video SSRC (publishers).
    pub fn rid_of(&mut self, ssrc: u32) -> Option<String> {
        let receiver = self.video_receiver?;
        self.peer
            .pc
            .rtp_receiver(receiver)
            .and_then(|r| r.track().rid(ssrc).map(|s| s.to_string()))
    }
}
