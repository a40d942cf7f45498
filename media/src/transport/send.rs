//! The send path of media toward a browser (forwarded room media, a call's bridged RTP): each
//! packet is written into the SFU's one reused buffer and protected there with the session's
//! own SRTP keys ([`super::srtp`]), with no lock and no heap allocation per packet. `rtc` is
//! bypassed for these RTP packets only (RTCP, DTLS and STUN still go through it), so this
//! module also does what its interceptors did for them: RTCP sender reports with the packet
//! and octet counts, and retransmission of NACKed video over RTX (RFC 4588) of packets the
//! router still keeps (one history per publisher's layer, see `crate::router`).

use std::time::Instant;

use rtc::peer_connection::RTCPeerConnection;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;

use super::codecs::RTX_PT;
use super::peer::OutTrack;
use super::srtp::{OutStream, ProtectError, SrtpOut};
use crate::ids::{Kind, WallClock};
use crate::rtp::write_rtp;

/// At most this many packets are sent again for one NACK message: a subscriber cannot make
/// the gateway send its whole history again and again with a few bytes of RTCP.
const MAX_PER_NACK: usize = 128;

/// A subscriber's send path once its DTLS handshake has given the keys.
pub struct FastOut {
    srtp: SrtpOut,
    audio: OutStream,
    video: OutStream,
    rtx: OutStream,
}

/// A peer's send path: not there before DTLS has completed; off if the negotiated profile
/// were one [`SrtpOut`] does not implement (it implements every one `rtc` negotiates).
#[derive(Default)]
pub enum Fast {
    #[default]
    Pending,
    Ready(Box<FastOut>),
    Off,
}

impl Fast {
    /// The send path, set up on first use after the DTLS handshake.
    /// `rtx_first`: the first RTX sequence number (random: derived from the random RTX SSRC).
    pub fn ready(&mut self, pc: &RTCPeerConnection, rtx_first: u16) -> Option<&mut FastOut> {
        if let Fast::Pending = self {
            let keys = pc.local_srtp_keys()?;
            *self = match SrtpOut::new(keys) {
                Some(srtp) => Fast::Ready(Box::new(FastOut {
                    srtp,
                    audio: OutStream::default(),
                    video: OutStream::default(),
                    rtx: OutStream::numbered_from(rtx_first),
                })),
                None => {
                    tracing::warn!(profile = ?keys.profile, "no SRTP send path for this profile");
                    Fast::Off
                }
            };
        }
        match self {
            Fast::Ready(f) => Some(f),
            _ => None,
        }
    }

    pub fn get(&mut self) -> Option<&mut FastOut> {
        match self {
            Fast::Ready(f) => Some(f),
            _ => None,
        }
    }
}

impl FastOut {
    /// Writes one RTP packet to `buf` (`header`: marker, payload type, sequence number,
    /// timestamp), protected, ready to send.
    pub fn rtp(
        &mut self,
        kind: Kind,
        track: &OutTrack,
        (marker, pt, seq, ts): (bool, u8, u16, u32),
        payload: &[u8],
        now: Instant,
        buf: &mut Vec<u8>,
    ) -> Result<(), ProtectError> {
        write_rtp(buf, marker, pt, seq, ts, track.ssrc, payload);
        let stream = match kind {
            Kind::Audio => &mut self.audio,
            Kind::Video => &mut self.video,
        };
        let roc = stream.roc_for(seq);
        stream.sent(ts, payload.len(), now);
        self.srtp.protect(buf, roc)
    }

    /// The sequence numbers a NACK of this subscriber's video asks for (at most
    /// [`MAX_PER_NACK`]).
    pub fn lost<'a>(
        nack: &'a TransportLayerNack,
        video: &OutTrack,
    ) -> impl Iterator<Item = u16> + 'a {
        let mine = nack.media_ssrc == video.ssrc;
        let seqs = nack.nacks.iter().filter(move |_| mine).flat_map(|pair| {
            let bits = pair.lost_packets;
            std::iter::once(pair.packet_id).chain(
                (0..16u16)
                    .filter(move |i| bits & (1 << i) != 0)
                    .map(move |i| pair.packet_id.wrapping_add(i + 1)),
            )
        });
        seqs.take(MAX_PER_NACK)
    }

    /// Writes the RTX retransmission of video packet `seq` (with its timestamp, marker and
    /// payload as first sent) to `buf` (RFC 4588: the original sequence number, then the
    /// payload, on the RTX SSRC); false when the subscriber has no RTX stream.
    pub fn retransmission(
        &mut self,
        video: &OutTrack,
        (seq, ts, marker): (u16, u32, bool),
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> bool {
        let Some(rtx_ssrc) = video.rtx_ssrc else {
            return false;
        };
        let rtx_seq = self.rtx.next_seq;
        self.rtx.next_seq = rtx_seq.wrapping_add(1);
        let osn = seq.to_be_bytes();
        write_rtp(buf, marker, RTX_PT, rtx_seq, ts, rtx_ssrc, &osn);
        buf.extend_from_slice(payload);
        let roc = self.rtx.roc_for(rtx_seq);
        self.srtp.protect(buf, roc).is_ok()
    }

    /// An RTCP sender report for one kind, once something was sent on it.
    pub fn sender_report(
        &self,
        kind: Kind,
        track: &OutTrack,
        clock: &WallClock,
        now: Instant,
    ) -> Option<SenderReport> {
        let stream = match kind {
            Kind::Audio => &self.audio,
            Kind::Video => &self.video,
        };
        let rate = f64::from(track.clock_rate);
        let (ts, at) = stream.last_ts?;
        Some(SenderReport {
            ssrc: track.ssrc,
            ntp_time: clock.ntp(now),
            rtp_time: ts
                .wrapping_add((now.saturating_duration_since(at).as_secs_f64() * rate) as u32),
            packet_count: stream.packets,
            octet_count: stream.octets,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;

    fn video() -> OutTrack {
        OutTrack {
            sender: Default::default(),
            ssrc: 7,
            payload_type: 96,
            rtx_ssrc: Some(8),
            clock_rate: 90_000,
        }
    }

    #[test]
    fn a_nack_names_its_packet_and_the_bitmap() {
        let nack = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 7,
            nacks: vec![
                NackPair {
                    packet_id: 65534,
                    lost_packets: 0b101,
                },
                NackPair {
                    packet_id: 10,
                    lost_packets: 0,
                },
            ],
        };
        let got: Vec<u16> = FastOut::lost(&nack, &video()).collect();
        assert_eq!(got, vec![65534, 65535, 1, 10]);
        let other = TransportLayerNack {
            media_ssrc: 9,
            ..nack
        };
        assert_eq!(FastOut::lost(&other, &video()).count(), 0);
        // A NACK naming 17 x 100 packets gets at most MAX_PER_NACK of them sent again.
        let flood = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 7,
            nacks: (0..100)
                .map(|i| NackPair {
                    packet_id: i * 17,
                    lost_packets: 0xffff,
                })
                .collect(),
        };
        assert_eq!(FastOut::lost(&flood, &video()).count(), MAX_PER_NACK);
    }
}
