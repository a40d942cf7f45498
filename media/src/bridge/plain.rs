//! A plain RTP/RTCP leg toward a SIP endpoint (one per media line of a bridged call).
//!
//! * Symmetric RTP: the leg latches on the first packet that comes from the negotiated peer
//!   address (any port), then sends there; packets from elsewhere are dropped.
//! * RTP and RTCP share the leg's one port (the SDP says `a=rtcp:<port>` and `a=rtcp-mux`) and
//!   are told apart by the payload-type byte (RFC 5761).
//! * Both directions map the payload type (negotiated codec and telephone-event) and rewrite
//!   SSRC, sequence number and timestamp into one continuous stream per direction.
//! * RTCP sender reports every 5 s, with a report block about what the SIP side sends
//!   (fraction and cumulative loss, extended highest sequence, jitter, LSR/DLSR; RFC 3550).
//!
//! Outgoing packets are written into a buffer the caller reuses: no allocation per packet
//! toward SIP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::sdes::SrtpLeg;
use super::sdp::{Chosen, Direction};
use crate::ids::{Kind, WallClock};
use crate::router::munger::Munger;
use crate::rtp::{is_rtcp, parse_rtp, write_rtp, RtpView};

const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// The SRTP contexts of a negotiated leg, if it is encrypted.
fn srtp_of(c: &Chosen) -> Option<SrtpLeg> {
    let (ours, theirs) = c.srtp.as_ref()?;
    let leg = SrtpLeg::new(ours, theirs);
    match &leg {
        Some(_) => {
            tracing::info!(local = %c.local, suite = ?ours.suite, "plain leg encrypted (SDES-SRTP)")
        }
        None => tracing::warn!(suite = ?ours.suite, "SRTP context not made: the leg stays silent"),
    }
    leg
}
/// Keyframe requests toward the SIP side at most this often: a browser asks again and again
/// while it waits for one.
const PLI_INTERVAL: Duration = Duration::from_millis(500);

/// Why [`PlainLeg::open`] refused a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The SRTP authentication failed (counted as rejected).
    Unauthentic,
    /// Negotiated encrypted, but no context could be made: the leg stays silent.
    NoContext,
}

#[derive(Debug)]
pub struct PlainLeg {
    /// What was negotiated (kept for re-INVITEs).
    pub chosen: Chosen,
    pub kind: Kind,
    pub local: SocketAddr,
    /// Where the SDP says to send (None: on hold / no address).
    remote: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    sip_pt: u8,
    webrtc_pt: u8,
    dtmf: Option<(u8, u8)>,
    clock: u32,
    direction: Direction,
    /// Our SSRC toward SIP.
    ssrc: u32,
    to_sip: Munger,
    to_browser: Munger,
    // Counters for RTCP.
    sent_packets: u32,
    sent_octets: u32,
    last_sent_ts: u32,
    received: u32,
    remote_ssrc: u32,
    highest_seq: Option<u16>,
    cycles: u32,
    /// Reception statistics of RFC 3550 A.3 / A.8 for the report block.
    base_seq: u32,
    expected_prior: u32,
    received_prior: u32,
    last_transit: Option<i64>,
    jitter: f64,
    /// The middle 32 bits of the NTP time of the peer's last SR, and when it came.
    last_sr: Option<(u32, Instant)>,
    next_report: Option<Instant>,
    /// The instant arrival times are counted from (jitter).
    origin: Option<Instant>,
    /// When the last keyframe request went to the SIP side.
    last_pli: Option<Instant>,
    /// SDES-SRTP of the leg (None: plain RTP).
    pub srtp: Option<SrtpLeg>,
    /// The sides share no codec: the browser's Opus is transcoded to the SIP side's codec and
    /// back ([`crate::mix::transcode`]).
    pub transcode: Option<Box<crate::mix::transcode::Transcoder>>,
}

impl PlainLeg {
    /// `ssrc`: what the leg sends toward SIP with (random, from the caller's generator).
    pub fn new(c: &Chosen, ssrc: u32) -> Self {
        PlainLeg {
            chosen: c.clone(),
            kind: c.kind,
            local: c.local,
            remote: c.remote,
            latched: None,
            sip_pt: c.sip_pt,
            webrtc_pt: c.webrtc_pt,
            dtmf: c.dtmf,
            clock: c.codec.clock.max(1),
            direction: c.direction,
            ssrc,
            to_sip: Munger::new(),
            to_browser: Munger::new(),
            sent_packets: 0,
            sent_octets: 0,
            last_sent_ts: 0,
            received: 0,
            remote_ssrc: 0,
            highest_seq: None,
            cycles: 0,
            base_seq: 0,
            expected_prior: 0,
            received_prior: 0,
            last_transit: None,
            jitter: 0.0,
            last_sr: None,
            next_report: None,
            origin: None,
            last_pli: None,
            srtp: srtp_of(c),
            transcode: None,
        }
    }

    /// Protects a packet of ours in `buf` when the leg is encrypted; false when it cannot be
    /// (then it is not sent).
    fn seal(&mut self, buf: &mut Vec<u8>, rtcp: bool) -> bool {
        match (&mut self.srtp, &self.chosen.srtp) {
            (Some(s), _) => s.protect(buf, rtcp),
            // Negotiated encrypted but no context: nothing goes out in clear.
            (None, Some(_)) => false,
            (None, None) => true,
        }
    }

    /// The browser wants a keyframe of the SIP side's video: an RTCP PLI (RFC 4585 §6.3.1)
    /// for its stream into `buf`, with where it goes; None for audio, before the SIP side's
    /// first packet (its SSRC is not known), or within [`PLI_INTERVAL`] of the last one.
    pub fn keyframe_request(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        if self.kind != Kind::Video || self.highest_seq.is_none() {
            return None;
        }
        if self
            .last_pli
            .is_some_and(|t| now.saturating_duration_since(t) < PLI_INTERVAL)
        {
            return None;
        }
        let to = self.destination()?;
        self.last_pli = Some(now);
        buf.clear();
        buf.extend_from_slice(&[0x81, 206, 0, 2]);
        buf.extend_from_slice(&self.ssrc.to_be_bytes());
        buf.extend_from_slice(&self.remote_ssrc.to_be_bytes());
        self.seal(buf, true).then_some(to)
    }

    /// Where packets to the SIP side go: the latched address, else the negotiated one.
    pub fn destination(&self) -> Option<SocketAddr> {
        if matches!(self.direction, Direction::SendOnly | Direction::Inactive) {
            return None;
        }
        self.latched.or(self.remote)
    }

    /// A datagram from the SIP side: latches, counts RTCP, returns RTP for the browser.
    pub fn receive<'a>(
        &mut self,
        from: SocketAddr,
        data: &'a [u8],
        now: Instant,
    ) -> Option<RtpView<'a>> {
        let rtcp = is_rtcp(data);
        let expected = match (self.latched, self.remote) {
            // RTCP may come from another port of the peer (RTP port + 1 without rtcp-mux).
            (Some(l), _) => l == from || (rtcp && l.ip() == from.ip()),
            (None, Some(r)) => r.ip() == from.ip(),
            (None, None) => true,
        };
        if !expected {
            return None;
        }
        if rtcp {
            // A sender report: remember its NTP time for our report's LSR/DLSR.
            if data.len() >= 20 && data[1] == 200 {
                let middle = u32::from_be_bytes([data[10], data[11], data[12], data[13]]);
                self.last_sr = Some((middle, now));
            }
            return None;
        }
        let v = parse_rtp(data)?;
        // Only RTP latches: an RTCP packet arriving first (from its own port) must not.
        if self.latched.is_none() {
            self.latched = Some(from);
        }
        self.received = self.received.wrapping_add(1);
        self.remote_ssrc = v.ssrc;
        // Interarrival jitter (RFC 3550 A.8), in timestamp units.
        let origin = *self.origin.get_or_insert(now);
        let arrival = now.saturating_duration_since(origin).as_secs_f64() * f64::from(self.clock);
        let transit = arrival as i64 - i64::from(v.timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        match self.highest_seq {
            None => {
                self.highest_seq = Some(v.sequence_number);
                self.base_seq = u32::from(v.sequence_number);
            }
            Some(h) => {
                let diff = v.sequence_number.wrapping_sub(h) as i16;
                if diff > 0 {
                    if v.sequence_number < h {
                        // A remote sender controls the sequence numbers: wrap, never overflow.
                        self.cycles = self.cycles.wrapping_add(1 << 16);
                    }
                    self.highest_seq = Some(v.sequence_number);
                }
            }
        }
        Some(v)
    }

    /// Maps a packet from the SIP side toward the browser: its header there (marker, payload
    /// type, sequence number, timestamp); `None` for a payload type not negotiated.
    pub fn to_browser(&mut self, v: &RtpView<'_>) -> Option<(bool, u8, u16, u32)> {
        let pt = if v.payload_type == self.sip_pt {
            self.webrtc_pt
        } else {
            match self.dtmf {
                Some((sip, web)) if v.payload_type == sip => web,
                _ => return None,
            }
        };
        let step = self.clock / 50;
        let (seq, ts) = self.to_browser.map(v.sequence_number, v.timestamp, step)?;
        Some((v.marker, pt, seq, ts))
    }

    /// Maps a packet from the browser into `buf` for the SIP side; returns where to send it.
    pub fn to_sip(&mut self, p: &rtc::rtp::Packet, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let to = self.destination()?;
        let pt = if p.header.payload_type == self.webrtc_pt {
            self.sip_pt
        } else {
            match self.dtmf {
                Some((sip, web)) if p.header.payload_type == web => sip,
                _ => return None,
            }
        };
        let step = self.clock / 50;
        let (seq, ts) = self
            .to_sip
            .map(p.header.sequence_number, p.header.timestamp, step)?;
        write_rtp(buf, p.header.marker, pt, seq, ts, self.ssrc, &p.payload);
        if !self.seal(buf, false) {
            return None;
        }
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(p.payload.len() as u32);
        self.last_sent_ts = ts;
        Some(to)
    }

    /// A datagram that came in on the leg, decrypted when the leg is encrypted (an encrypted
    /// leg takes only what its peer's key authenticates).
    pub fn open<'a>(&mut self, data: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, Refused> {
        match (&mut self.srtp, &self.chosen.srtp) {
            (Some(srtp), _) => srtp
                .unprotect(data, is_rtcp(data))
                .map(|clear| std::borrow::Cow::Owned(Vec::from(clear)))
                .ok_or(Refused::Unauthentic),
            (None, Some(_)) => Err(Refused::NoContext),
            (None, None) => Ok(std::borrow::Cow::Borrowed(data)),
        }
    }

    /// Audio the gateway made (a room's mix) toward the phone: `seq` and `ts` are the
    /// caller's continuous stream; returns where the packet in `buf` goes.
    pub fn send_own(
        &mut self,
        seq: u16,
        ts: u32,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        let to = self.destination()?;
        write_rtp(buf, false, self.sip_pt, seq, ts, self.ssrc, payload);
        if !self.seal(buf, false) {
            return None;
        }
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload.len() as u32);
        self.last_sent_ts = ts;
        Some(to)
    }

    /// The SIP side's payload types: (codec, telephone-event).
    pub fn sip_payload_types(&self) -> (u8, Option<u8>) {
        (self.sip_pt, self.dtmf.map(|(sip, _)| sip))
    }

    /// An RTCP sender report into `buf` when one is due; returns where to send it.
    pub fn report(
        &mut self,
        now: Instant,
        clock: &WallClock,
        buf: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        let due = *self.next_report.get_or_insert(now + REPORT_INTERVAL);
        if now < due {
            return None;
        }
        self.next_report = Some(now + REPORT_INTERVAL);
        let to = self.destination()?;
        let ntp = clock.ntp(now);
        let (ntp_secs, ntp_frac) = (ntp >> 32, ntp & 0xffff_ffff);
        let with_block = self.highest_seq.is_some();
        let words: u16 = if with_block { 12 } else { 6 };
        buf.clear();
        buf.push(0x80 | u8::from(with_block));
        buf.push(200);
        buf.extend_from_slice(&words.to_be_bytes());
        buf.extend_from_slice(&self.ssrc.to_be_bytes());
        buf.extend_from_slice(&(ntp_secs as u32).to_be_bytes());
        buf.extend_from_slice(&(ntp_frac as u32).to_be_bytes());
        buf.extend_from_slice(&self.last_sent_ts.to_be_bytes());
        buf.extend_from_slice(&self.sent_packets.to_be_bytes());
        buf.extend_from_slice(&self.sent_octets.to_be_bytes());
        if let Some(h) = self.highest_seq {
            // RFC 3550 A.3: loss since the start and since the last report.
            let extended = self.cycles | u32::from(h);
            let expected = extended.wrapping_sub(self.base_seq).wrapping_add(1);
            let lost =
                (i64::from(expected) - i64::from(self.received)).clamp(-0x80_0000, 0x7f_ffff);
            let expected_interval = expected.wrapping_sub(self.expected_prior);
            let received_interval = self.received.wrapping_sub(self.received_prior);
            self.expected_prior = expected;
            self.received_prior = self.received;
            let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
            let fraction = if expected_interval == 0 || lost_interval <= 0 {
                0u8
            } else {
                ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
            };
            buf.extend_from_slice(&self.remote_ssrc.to_be_bytes());
            buf.push(fraction);
            buf.extend_from_slice(&(lost as i32).to_be_bytes()[1..]);
            buf.extend_from_slice(&extended.to_be_bytes());
            buf.extend_from_slice(&(self.jitter as u32).to_be_bytes());
            let (lsr, dlsr) = match self.last_sr {
                Some((middle, at)) => {
                    let delay = now.saturating_duration_since(at).as_secs_f64() * 65536.0;
                    (middle, delay as u32)
                }
                None => (0, 0),
            };
            buf.extend_from_slice(&lsr.to_be_bytes());
            buf.extend_from_slice(&dlsr.to_be_bytes());
        }
        self.seal(buf, true).then_some(to)
    }

    /// The SIP side re-negotiated (re-INVITE): new address or direction (hold / unhold).
    pub fn update(&mut self, c: &Chosen) {
        if self.chosen.srtp != c.srtp {
            self.srtp = srtp_of(c);
        }
        self.chosen = c.clone();
        if self.remote != c.remote {
            self.latched = None;
        }
        self.remote = c.remote;
        self.direction = c.direction;
        self.sip_pt = c.sip_pt;
        self.dtmf = c.dtmf;
        self.to_sip.switch();
        self.to_browser.switch();
    }

    pub fn packets_sent(&self) -> u32 {
        self.sent_packets
    }

    pub fn packets_received(&self) -> u32 {
        self.received
    }

    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::sdp::Codec;

    fn chosen(remote: &str) -> Chosen {
        Chosen {
            kind: Kind::Audio,
            local: "127.0.0.1:30000".parse().unwrap(),
            advertised: "127.0.0.1:30000".parse().unwrap(),
            remote: Some(remote.parse().unwrap()),
            codec: Codec {
                pt: 8,
                name: "pcma".into(),
                clock: 8000,
                channels: 1,
                fmtp: None,
            },
            sip_pt: 8,
            webrtc_pt: 8,
            dtmf: Some((101, 126)),
            srtp: None,
            secure: false,
            direction: Direction::SendRecv,
        }
    }

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        write_rtp(&mut b, false, pt, seq, ts, 0x1234, payload);
        b
    }

    /// A sender choosing its sequence numbers can wrap the cycle count as often as it likes:
    /// three packets a wrap, 65,536 wraps overflowed a `u32` (a panic where overflow is
    /// checked). The count wraps now, and the reports go on.
    #[test]
    fn a_remote_sender_cannot_overflow_the_cycle_count() {
        let from: SocketAddr = "10.0.0.9:4000".parse().unwrap();
        let mut leg = PlainLeg::new(&chosen("10.0.0.9:4000"), 0x5151);
        let now = Instant::now();
        let mut seq = 0u16;
        for _ in 0..(65_536 * 3 + 30) {
            seq = seq.wrapping_add(30_000);
            assert!(leg.receive(from, &rtp(8, seq, 0, b"x"), now).is_some());
        }
        let mut buf = Vec::new();
        // The first call only schedules the first report.
        let _ = leg.report(now, &WallClock::system(), &mut buf);
        assert!(leg
            .report(
                now + Duration::from_secs(10),
                &WallClock::system(),
                &mut buf
            )
            .is_some());
    }

    #[test]
    fn parses_headers_extensions_and_padding() {
        let p = rtp(8, 7, 160, b"abc");
        let v = parse_rtp(&p).unwrap();
        assert_eq!(
            (v.payload_type, v.sequence_number, v.timestamp, v.payload),
            (8, 7, 160, &b"abc"[..])
        );
        // One CSRC, a one-word extension, two bytes of padding.
        let mut q = vec![
            0x80 | 0x20 | 0x10 | 1,
            8,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            0,
            0,
            2,
            0,
            0,
            0,
            9,
        ];
        q.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
        q.extend_from_slice(b"xyz");
        q.extend_from_slice(&[0, 2]);
        assert_eq!(parse_rtp(&q).unwrap().payload, b"xyz");
        for cut in 0..q.len() {
            let _ = parse_rtp(&q[..cut]);
        }
        assert!(parse_rtp(&[0x80, 200, 0, 6, 0, 0, 0, 0]).is_none());
        assert!(is_rtcp(&[0x81, 201, 0, 7, 0, 0, 0, 0]));
    }

    #[test]
    fn latches_only_on_the_negotiated_address() {
        let mut leg = PlainLeg::new(&chosen("127.0.0.1:17000"), 0x5151);
        let now = Instant::now();
        let p = rtp(8, 1, 0, b"x");
        // A stranger is ignored; the negotiated host from another port is latched.
        assert!(leg
            .receive("10.9.9.9:17000".parse().unwrap(), &p, now)
            .is_none());
        assert_eq!(leg.destination(), Some("127.0.0.1:17000".parse().unwrap()));
        assert!(leg
            .receive("127.0.0.1:17002".parse().unwrap(), &p, now)
            .is_some());
        assert_eq!(leg.latched(), Some("127.0.0.1:17002".parse().unwrap()));
        assert_eq!(leg.destination(), Some("127.0.0.1:17002".parse().unwrap()));
        // Once latched, another source is dropped.
        assert!(leg
            .receive("127.0.0.1:17000".parse().unwrap(), &p, now)
            .is_none());
    }

    #[test]
    fn rtcp_from_the_rtcp_port_does_not_latch() {
        // baresip without rtcp-mux: its first RTCP (RTP port + 1) can arrive before any RTP.
        let mut leg = PlainLeg::new(&chosen("127.0.0.1:20108"), 0x5151);
        let now = Instant::now();
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 9];
        assert!(leg
            .receive("127.0.0.1:20109".parse().unwrap(), &rr, now)
            .is_none());
        assert_eq!(leg.latched(), None);
        let p = rtp(8, 1, 0, b"x");
        assert!(leg
            .receive("127.0.0.1:20108".parse().unwrap(), &p, now)
            .is_some());
        assert_eq!(leg.latched(), Some("127.0.0.1:20108".parse().unwrap()));
        // Later RTCP from the RTCP port is still taken (not RTP for the browser, no drop of
        // the latch); RTP from that port is not.
        assert!(leg
            .receive("127.0.0.1:20109".parse().unwrap(), &rr, now)
            .is_none());
        assert!(leg
            .receive("127.0.0.1:20109".parse().unwrap(), &p, now)
            .is_none());
        assert_eq!(leg.latched(), Some("127.0.0.1:20108".parse().unwrap()));
    }

    #[test]
    fn maps_payload_types_both_ways_and_drops_the_rest() {
        let mut leg = PlainLeg::new(&chosen("127.0.0.1:17000"), 0x5151);
        let now = Instant::now();
        let from: SocketAddr = "127.0.0.1:17000".parse().unwrap();
        let audio = rtp(8, 10, 800, b"pcma");
        let v = leg.receive(from, &audio, now).unwrap();
        let (marker, pt, _, ts) = leg.to_browser(&v).unwrap();
        assert_eq!((marker, pt, ts), (false, 8, 800));
        let dtmf = rtp(101, 11, 960, &[1, 0x80, 0, 160]);
        let v = leg.receive(from, &dtmf, now).unwrap();
        assert_eq!(leg.to_browser(&v).unwrap().1, 126);
        let other = rtp(0, 12, 1120, b"pcmu");
        let v = leg.receive(from, &other, now).unwrap();
        assert!(leg.to_browser(&v).is_none());
        // Browser -> SIP.
        let mut buf = Vec::new();
        let p = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: 126,
                sequence_number: 5,
                timestamp: 40,
                ssrc: 99,
                ..Default::default()
            },
            payload: bytes::Bytes::from_static(&[1, 0x0a, 0, 160]),
        };
        assert_eq!(leg.to_sip(&p, &mut buf), Some(from));
        let v = parse_rtp(&buf).unwrap();
        assert_eq!((v.payload_type, v.payload), (101, &[1, 0x0a, 0, 160][..]));
        assert_ne!(v.ssrc, 99);
    }

    #[test]
    fn keyframe_requests_go_to_the_video_sender_and_are_paced() {
        let mut c = chosen("127.0.0.1:17000");
        c.kind = Kind::Video;
        let mut leg = PlainLeg::new(&c, 0x1111);
        let now = Instant::now();
        let mut buf = Vec::new();
        // Nothing before the SIP side's first packet: its SSRC is unknown.
        assert_eq!(leg.keyframe_request(now, &mut buf), None);
        let from: SocketAddr = "127.0.0.1:17000".parse().unwrap();
        let mut p = rtp(8, 1, 0, b"frame");
        p[8..12].copy_from_slice(&0x2222u32.to_be_bytes());
        leg.receive(from, &p, now).unwrap();
        assert_eq!(leg.keyframe_request(now, &mut buf), Some(from));
        assert_eq!(
            buf,
            [0x81, 206, 0, 2, 0, 0, 0x11, 0x11, 0, 0, 0x22, 0x22].to_vec()
        );
        assert_eq!(leg.keyframe_request(now + PLI_INTERVAL / 2, &mut buf), None);
        assert!(leg.keyframe_request(now + PLI_INTERVAL, &mut buf).is_some());
        // Audio legs never ask.
        let mut audio = PlainLeg::new(&chosen("127.0.0.1:17000"), 1);
        audio.receive(from, &rtp(8, 1, 0, b"x"), now).unwrap();
        assert_eq!(audio.keyframe_request(now, &mut buf), None);
    }

    #[test]
    fn hold_stops_sending_and_reports_are_periodic() {
        let mut leg = PlainLeg::new(&chosen("127.0.0.1:17000"), 0x5151);
        let t0 = Instant::now();
        let mut buf = Vec::new();
        assert!(leg.report(t0, &WallClock::system(), &mut buf).is_none());
        assert!(leg
            .report(t0 + Duration::from_secs(5), &WallClock::system(), &mut buf)
            .is_some());
        assert!(is_rtcp(&buf));
        assert_eq!(buf.len(), 28);
        let mut held = chosen("127.0.0.1:17000");
        held.direction = Direction::SendOnly;
        leg.update(&held);
        assert_eq!(leg.destination(), None);
    }

    #[test]
    fn report_blocks_count_loss_jitter_and_the_last_sender_report() {
        let mut leg = PlainLeg::new(&chosen("127.0.0.1:17000"), 0x5151);
        let from: SocketAddr = "127.0.0.1:17000".parse().unwrap();
        let t0 = Instant::now();
        // Packets 1..=10 but 4 and 7 lost, each 20 ms apart, 2 ms late every other one.
        for seq in (1u16..=10).filter(|s| *s != 4 && *s != 7) {
            let late = if seq % 2 == 0 { 2 } else { 0 };
            let at = t0 + Duration::from_millis(u64::from(seq) * 20 + late);
            let p = rtp(8, seq, u32::from(seq) * 160, b"x");
            assert!(leg.receive(from, &p, at).is_some());
        }
        // The peer's SR: NTP 0x11223344_55667788, so LSR = 0x33445566.
        let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 9];
        sr.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        sr.extend_from_slice(&[0; 12]);
        let sr_at = t0 + Duration::from_millis(300);
        assert!(leg.receive(from, &sr, sr_at).is_none());
        let mut buf = Vec::new();
        assert!(leg.report(t0, &WallClock::system(), &mut buf).is_none());
        let at = sr_at + Duration::from_millis(500);
        leg.next_report = Some(at);
        assert!(leg.report(at, &WallClock::system(), &mut buf).is_some());
        assert_eq!(buf.len(), 52);
        let block = &buf[28..];
        assert_eq!(u32::from_be_bytes(block[0..4].try_into().unwrap()), 0x1234);
        assert_eq!(block[4], 51, "fraction lost: 2 of 10 = 51/256");
        assert_eq!(&block[5..8], &[0, 0, 2], "cumulative lost");
        assert_eq!(u32::from_be_bytes(block[8..12].try_into().unwrap()), 10);
        let jitter = u32::from_be_bytes(block[12..16].try_into().unwrap());
        assert!(
            (1..=16).contains(&jitter),
            "jitter {jitter} (2 ms = 16 units at 8 kHz)"
        );
        assert_eq!(
            u32::from_be_bytes(block[16..20].try_into().unwrap()),
            0x3344_5566
        );
        let dlsr = u32::from_be_bytes(block[20..24].try_into().unwrap());
        assert!(
            (32_700..=32_800).contains(&dlsr),
            "DLSR {dlsr} (0.5 s = 32768)"
        );
        // The next report: nothing lost since.
        leg.next_report = Some(at);
        assert!(leg.report(at, &WallClock::system(), &mut buf).is_some());
        assert_eq!(buf[28 + 4], 0);
    }
}
