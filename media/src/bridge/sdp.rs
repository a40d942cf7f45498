//! SDP for the plain RTP side of a bridged call: read the codecs of an offer or answer, build
//! the gateway's RTP/AVP offer toward SIP from a browser's WebRTC offer, and pick, per media
//! line, the codec both sides have. A browser offering Opus but not G.722 or G.711 gets those
//! offered too, through the transcoder; otherwise a call whose sides share no codec is
//! refused (SIP 488).

use std::net::{IpAddr, SocketAddr};

use super::sdes::{Crypto, SdesMode};
use crate::ids::Kind;

/// Codecs bridged without transcoding (name, clock rate), lower-case.
const AUDIO_CODECS: &[(&str, u32)] = &[
    ("opus", 48000),
    ("g722", 8000),
    ("pcmu", 8000),
    ("pcma", 8000),
];
const VIDEO_CODECS: &[(&str, u32)] = &[("vp8", 90000), ("h264", 90000)];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub pt: u8,
    /// Lower-case encoding name (`opus`, `pcmu`, `telephone-event`, ...).
    pub name: String,
    pub clock: u32,
    pub channels: u8,
    pub fmtp: Option<String>,
}

impl Codec {
    /// Whether RTP of `self` can be passed to a side that negotiated `other` unchanged: the
    /// same encoding and clock and, for H.264 (RFC 6184), the same packetization mode and
    /// profile (the level may differ: each side sends within what the other declared).
    fn same_format(&self, other: &Codec) -> bool {
        self.name == other.name
            && self.clock == other.clock
            && (self.name != "h264" || h264::compatible(self.fmtp(), other.fmtp()))
    }

    fn fmtp(&self) -> Option<&str> {
        self.fmtp.as_deref()
    }

    fn rtpmap(&self) -> String {
        let name = match self.name.as_str() {
            "opus" => "opus".to_string(),
            "telephone-event" => "telephone-event".to_string(),
            other => other.to_uppercase(),
        };
        if self.channels > 1 {
            format!("{} {name}/{}/{}", self.pt, self.clock, self.channels)
        } else {
            format!("{} {name}/{}", self.pt, self.clock)
        }
    }
}

/// H.264 format parameters (RFC 6184 §8.1): `packetization-mode` and the profile of
/// `profile-level-id`, as browsers match them.
mod h264 {
    /// The H.264 profiles browsers tell apart.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Profile {
        ConstrainedBaseline,
        Baseline,
        Main,
        ConstrainedHigh,
        High,
        PredictiveHigh444,
    }

    /// A parameter of an fmtp line (`a=b;c=d`), case-insensitive names.
    pub fn param<'a>(fmtp: Option<&'a str>, name: &str) -> Option<&'a str> {
        fmtp?.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The profile of a `profile-level-id` (absent: 42000a, Baseline level 1, RFC 6184), by
    /// profile_idc and the constraint flags (the table libwebrtc and the H.264 spec agree on).
    pub fn profile(fmtp: Option<&str>) -> Option<Profile> {
        let id = param(fmtp, "profile-level-id").unwrap_or("42000a");
        if id.len() != 6 || !id.is_ascii() {
            return None;
        }
        let idc = u8::from_str_radix(&id[0..2], 16).ok()?;
        let iop = u8::from_str_radix(&id[2..4], 16).ok()?;
        // (profile_idc, mask of the constraint bits that matter, their value, profile).
        const TABLE: [(u8, u8, u8, Profile); 9] = [
            (0x42, 0x4f, 0x40, Profile::ConstrainedBaseline),
            (0x4d, 0x8f, 0x80, Profile::ConstrainedBaseline),
            (0x58, 0xcf, 0xc0, Profile::ConstrainedBaseline),
            (0x42, 0x4f, 0x00, Profile::Baseline),
            (0x58, 0xcf, 0x80, Profile::Baseline),
            (0x4d, 0xaf, 0x00, Profile::Main),
            (0x64, 0xff, 0x00, Profile::High),
            (0x64, 0xff, 0x0c, Profile::ConstrainedHigh),
            (0xf4, 0xff, 0x00, Profile::PredictiveHigh444),
        ];
        TABLE
            .iter()
            .find(|(i, mask, value, _)| *i == idc && iop & mask == *value)
            .map(|t| t.3)
    }

    /// The packetization mode (absent: 0, single NAL unit).
    pub fn packetization_mode(fmtp: Option<&str>) -> &str {
        param(fmtp, "packetization-mode").unwrap_or("0")
    }

    pub fn compatible(a: Option<&str>, b: Option<&str>) -> bool {
        packetization_mode(a) == packetization_mode(b)
            && profile(a).is_some()
            && profile(a) == profile(b)
    }
}

/// Static payload types (RFC 3551) that need no rtpmap.
fn static_codec(pt: u8) -> Option<Codec> {
    let (name, clock) = match pt {
        0 => ("pcmu", 8000),
        8 => ("pcma", 8000),
        9 => ("g722", 8000),
        _ => return None,
    };
    Some(Codec {
        pt,
        name: name.into(),
        clock,
        channels: 1,
        fmtp: None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    pub kind: Option<Kind>,
    pub port: u16,
    pub proto: String,
    pub codecs: Vec<Codec>,
    pub addr: Option<IpAddr>,
    pub rtcp_mux: bool,
    pub direction: Direction,
    /// SDES keys offered or answered (`a=crypto`), those the gateway can use.
    pub crypto: Vec<Crypto>,
}

impl MediaLine {
    /// RTP/SAVP (or another secure profile): encrypted or nothing.
    pub fn secure(&self) -> bool {
        self.proto.contains("SAVP")
    }

    /// Whether the gateway can take this line of an offer under `mode`: RTP/SAVP needs keys
    /// it can use, and `mandatory` takes nothing else; `disabled` takes no RTP/SAVP.
    pub(crate) fn acceptable(&self, mode: SdesMode) -> bool {
        match mode {
            SdesMode::Disabled => !self.secure(),
            SdesMode::Optional => !self.secure() || !self.crypto.is_empty(),
            SdesMode::Mandatory => !self.crypto.is_empty(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Malformed(String),
    #[error("no media in the SDP")]
    NoMedia,
    /// No codec both sides have, on any media line (SIP 488).
    #[error("no common codec")]
    NoCommonCodec,
}

/// Reads the media lines of an SDP (codecs, address, port, direction, rtcp-mux).
pub fn parse(sdp: &str) -> Result<Vec<MediaLine>, SdpError> {
    let mut session_addr = None;
    let mut session_dir = Direction::SendRecv;
    let mut lines: Vec<MediaLine> = Vec::new();
    if !sdp.trim_start().starts_with("v=") {
        return Err(SdpError::Malformed("does not start with v=".into()));
    }
    for raw in sdp.lines() {
        let line = raw.trim_end_matches('\r');
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let current = lines.last_mut();
        match (key, current) {
            ("m", _) => {
                let mut parts = value.split_whitespace();
                let media = parts.next().unwrap_or_default();
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| SdpError::Malformed(format!("bad m= line: {line}")))?;
                let proto = parts.next().unwrap_or_default().to_string();
                let codecs = parts
                    .filter_map(|f| f.parse::<u8>().ok())
                    .map(|pt| {
                        static_codec(pt).unwrap_or(Codec {
                            pt,
                            name: String::new(),
                            clock: 0,
                            channels: 1,
                            fmtp: None,
                        })
                    })
                    .collect();
                let kind = match media {
                    "audio" => Some(Kind::Audio),
                    "video" => Some(Kind::Video),
                    _ => None,
                };
                lines.push(MediaLine {
                    kind,
                    port,
                    proto,
                    codecs,
                    addr: None,
                    rtcp_mux: false,
                    direction: session_dir,
                    crypto: Vec::new(),
                });
            }
            ("c", current) => {
                let addr = value
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse::<IpAddr>().ok());
                match current {
                    Some(m) => m.addr = addr,
                    None => session_addr = addr,
                }
            }
            ("a", current) => {
                let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                let dir = match name {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                match (current, dir) {
                    (None, Some(d)) => session_dir = d,
                    (Some(m), Some(d)) => m.direction = d,
                    (Some(m), None) => apply_media_attr(m, name, arg),
                    (None, None) => {}
                }
            }
            _ => {}
        }
    }
    for m in &mut lines {
        if m.addr.is_none() {
            m.addr = session_addr;
        }
        // Dynamic payload types without an rtpmap cannot be used.
        m.codecs.retain(|c| !c.name.is_empty());
    }
    if lines.is_empty() {
        return Err(SdpError::NoMedia);
    }
    Ok(lines)
}

fn apply_media_attr(m: &mut MediaLine, name: &str, arg: &str) {
    match name {
        "rtcp-mux" => m.rtcp_mux = true,
        // At most a few keys: an offer carrying hundreds is not worth reading.
        "crypto" if m.crypto.len() < 8 => m.crypto.extend(Crypto::parse(arg)),
        "rtpmap" => {
            let Some((pt, enc)) = arg.split_once(' ') else {
                return;
            };
            let Ok(pt) = pt.trim().parse::<u8>() else {
                return;
            };
            let mut it = enc.trim().split('/');
            let name = it.next().unwrap_or_default().to_lowercase();
            let clock = it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            let channels = it.next().and_then(|c| c.parse().ok()).unwrap_or(1);
            if let Some(c) = m.codecs.iter_mut().find(|c| c.pt == pt) {
                c.name = name;
                c.clock = clock;
                c.channels = channels;
            }
        }
        "fmtp" => {
            let Some((pt, params)) = arg.split_once(' ') else {
                return;
            };
            if let Ok(pt) = pt.trim().parse::<u8>() {
                if let Some(c) = m.codecs.iter_mut().find(|c| c.pt == pt) {
                    c.fmtp = Some(params.trim().to_string());
                }
            }
        }
        _ => {}
    }
}

fn bridgeable(kind: Kind, c: &Codec) -> bool {
    let list = match kind {
        Kind::Audio => AUDIO_CODECS,
        Kind::Video => VIDEO_CODECS,
    };
    list.iter()
        .any(|(n, clock)| c.name == *n && c.clock == *clock)
        || (kind == Kind::Audio && c.name == "telephone-event")
}

/// What the gateway offered to SIP for one kind (PTs are the browser's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub kind: Kind,
    /// The leg socket's address.
    pub local: SocketAddr,
    /// What the SDP says (the advertised address, same port).
    pub advertised: SocketAddr,
    pub codecs: Vec<Codec>,
    /// SDES keys of ours on this line (none: plain RTP).
    pub crypto: Vec<Crypto>,
    /// RTP/SAVP rather than RTP/AVP.
    pub secure: bool,
    /// Payload types of `codecs` the browser does not have: offered so that a phone without
    /// the browser's codecs can still be called, through the transcoder
    /// ([`crate::mix::transcode`]); taken only when the phone answers with nothing else.
    pub transcoded: Vec<u8>,
}

/// Codecs the gateway can transcode a browser's Opus to (payload type, name), offered after
/// the browser's own.
const TRANSCODED: &[(u8, &str)] = &[(9, "g722"), (0, "pcmu"), (8, "pcma")];

/// Builds the plain RTP/AVP offer toward SIP from a browser's offer: each audio/video line the
/// browser offers, with the codecs of it the gateway can bridge (keeping the browser's payload
/// types, so no renumbering is needed toward the browser), on the given RTP legs
/// (kind, socket address, advertised address).
pub fn plain_offer(
    browser_offer: &str,
    locals: &[(Kind, SocketAddr, SocketAddr)],
    session_id: u64,
    sdes: SdesMode,
    rng: &mut impl rand::Rng,
) -> Result<(String, Vec<Offered>), SdpError> {
    let lines = parse(browser_offer)?;
    let mut offered = Vec::new();
    for (kind, local, advertised) in locals {
        let Some(m) = lines.iter().find(|m| m.kind == Some(*kind) && m.port != 0) else {
            continue;
        };
        let mut codecs: Vec<Codec> = m
            .codecs
            .iter()
            .filter(|c| bridgeable(*kind, c))
            .cloned()
            .collect();
        let mut transcoded = Vec::new();
        if codecs.iter().any(|c| c.name == "opus") {
            for (pt, name) in TRANSCODED {
                let free = !m.codecs.iter().any(|c| c.pt == *pt);
                if free && !codecs.iter().any(|c| c.name == *name) {
                    codecs.push(Codec {
                        pt: *pt,
                        name: name.to_string(),
                        clock: 8000,
                        channels: 1,
                        fmtp: None,
                    });
                    transcoded.push(*pt);
                }
            }
        }
        if codecs.iter().any(|c| c.name != "telephone-event") {
            offered.push(Offered {
                kind: *kind,
                local: *local,
                advertised: *advertised,
                codecs,
                crypto: match sdes {
                    SdesMode::Disabled => Vec::new(),
                    _ => Crypto::offer(rng),
                },
                secure: sdes == SdesMode::Mandatory,
                transcoded,
            });
        }
    }
    if offered.is_empty() {
        return Err(SdpError::NoCommonCodec);
    }
    Ok((render(&offered, session_id, Direction::SendRecv), offered))
}

/// Renders a plain RTP SDP for the given media (used for offers and answers).
pub fn render(media: &[Offered], session_id: u64, dir: Direction) -> String {
    let lines: Vec<(&Offered, Direction)> = media.iter().map(|m| (m, dir)).collect();
    render_lines(&lines, session_id)
}

/// Renders a plain RTP SDP with a direction per media line; a line whose advertised port is
/// 0 is a refused (or removed) stream (RFC 3264 §6, §8.2).
fn render_lines(media: &[(&Offered, Direction)], session_id: u64) -> String {
    let advertise: IpAddr = media
        .iter()
        .find(|(m, _)| m.advertised.port() != 0)
        .or(media.first())
        .map(|(m, _)| m.advertised.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let family = if advertise.is_ipv6() { "IP6" } else { "IP4" };
    let mut s = format!(
        "v=0\r\no=sylk-gateway {session_id} {session_id} IN {family} {advertise}\r\ns=sylk-gateway\r\nc=IN {family} {advertise}\r\nt=0 0\r\n"
    );
    for (m, dir) in media {
        let kind = match m.kind {
            Kind::Audio => "audio",
            Kind::Video => "video",
        };
        let pts: Vec<String> = m.codecs.iter().map(|c| c.pt.to_string()).collect();
        let port = m.advertised.port();
        let proto = if m.secure { "RTP/SAVP" } else { "RTP/AVP" };
        s.push_str(&format!("m={kind} {port} {proto} {}\r\n", pts.join(" ")));
        for c in &m.codecs {
            s.push_str(&format!("a=rtpmap:{}\r\n", c.rtpmap()));
            if let Some(f) = &c.fmtp {
                s.push_str(&format!("a=fmtp:{} {f}\r\n", c.pt));
            }
        }
        if port == 0 {
            continue;
        }
        for c in &m.crypto {
            s.push_str(&c.line());
        }
        // RTCP on the RTP port (RFC 3605 + RFC 5761): one socket per media line.
        s.push_str(&format!(
            "a=rtcp:{port}\r\na=rtcp-mux\r\na={}\r\n",
            dir.attr()
        ));
    }
    s
}

/// The codec chosen for one media line, with its payload type on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub kind: Kind,
    pub local: SocketAddr,
    /// The address the SDP shows for `local`.
    pub advertised: SocketAddr,
    /// Where the SIP side wants RTP (None: on hold / inactive, or port 0).
    pub remote: Option<SocketAddr>,
    pub codec: Codec,
    /// Payload type of the codec on the SIP side and on the browser side.
    pub sip_pt: u8,
    pub webrtc_pt: u8,
    /// telephone-event (RFC 4733) payload types (SIP, browser), when both have it.
    pub dtmf: Option<(u8, u8)>,
    pub direction: Direction,
    /// SDES-SRTP on this leg: our key and theirs.
    pub srtp: Option<(Crypto, Crypto)>,
    /// The line is RTP/SAVP.
    pub secure: bool,
}

/// Picks, per offered kind, the first codec of the SIP answer that was offered.
pub fn negotiate(offered: &[Offered], answer: &str) -> Result<Vec<Chosen>, SdpError> {
    let lines = parse(answer)?;
    let mut chosen = Vec::new();
    for o in offered {
        let Some(m) = lines.iter().find(|m| m.kind == Some(o.kind)) else {
            continue;
        };
        if m.port == 0 {
            continue;
        }
        // A codec both sides have first; one that needs the transcoder only when the answer
        // has nothing else.
        let offered_as = |direct: bool| {
            m.codecs.iter().find_map(|a| {
                o.codecs
                    .iter()
                    .find(|c| {
                        c.name != "telephone-event"
                            && c.same_format(a)
                            && o.transcoded.contains(&c.pt) != direct
                    })
                    .map(|c| (a, c))
            })
        };
        let pick = offered_as(true).or_else(|| offered_as(false));
        let Some((theirs, ours)) = pick else {
            continue;
        };
        let dtmf = m
            .codecs
            .iter()
            .find(|c| c.name == "telephone-event")
            .and_then(|a| {
                o.codecs
                    .iter()
                    .find(|c| c.name == "telephone-event" && c.clock == a.clock)
                    .map(|c| (a.pt, c.pt))
            });
        let remote = match (m.addr, m.direction) {
            (Some(ip), _) if !ip.is_unspecified() => Some(SocketAddr::new(ip, m.port)),
            _ => None,
        };
        // Their key for one of the suites we offered, under its tag.
        let srtp = m.crypto.iter().find_map(|t| {
            o.crypto
                .iter()
                .find(|c| c.tag == t.tag && c.suite == t.suite)
                .map(|c| (c.clone(), t.clone()))
        });
        if srtp.is_none() && (o.secure || m.secure()) {
            // RTP/SAVP asked for (or answered) without keys we can use.
            continue;
        }
        chosen.push(Chosen {
            kind: o.kind,
            local: o.local,
            advertised: o.advertised,
            remote,
            codec: ours.clone(),
            sip_pt: theirs.pt,
            webrtc_pt: ours.pt,
            dtmf,
            direction: m.direction,
            secure: srtp.is_some() && (o.secure || m.secure()),
            srtp,
        });
    }
    if chosen.is_empty() {
        return Err(SdpError::NoCommonCodec);
    }
    Ok(chosen)
}

/// The codecs of a SIP offer the gateway can bridge, per kind, in the caller's order and with
/// the caller's payload types (used unchanged toward the browser).
pub fn incoming_codecs(sip_offer: &str, sdes: SdesMode) -> Result<Vec<(Kind, Codec)>, SdpError> {
    let lines = parse(sip_offer)?;
    let mut out = Vec::new();
    for kind in [Kind::Audio, Kind::Video] {
        let Some(m) = lines.iter().find(|m| m.kind == Some(kind) && m.port != 0) else {
            continue;
        };
        if !m.acceptable(sdes) {
            continue;
        }
        let codecs: Vec<&Codec> = m.codecs.iter().filter(|c| bridgeable(kind, c)).collect();
        if codecs.iter().any(|c| c.name != "telephone-event") {
            out.extend(codecs.into_iter().map(|c| (kind, c.clone())));
        }
    }
    if out.is_empty() {
        return Err(SdpError::NoCommonCodec);
    }
    Ok(out)
}

pub(crate) fn answer_direction(offer: Direction) -> Direction {
    match offer {
        Direction::SendRecv => Direction::SendRecv,
        Direction::SendOnly => Direction::RecvOnly,
        Direction::RecvOnly => Direction::SendOnly,
        Direction::Inactive => Direction::Inactive,
    }
}

/// The browser answered an incoming call: per kind, the codec it took (first in its answer),
/// and the plain SDP answer for the SIP caller on the given legs (kind, socket, advertised).
pub fn answer_incoming(
    sip_offer: &str,
    browser_answer: &str,
    locals: &[(Kind, SocketAddr, SocketAddr)],
    session_id: u64,
    sdes: SdesMode,
    rng: &mut impl rand::RngCore,
) -> Result<(Vec<Chosen>, String), SdpError> {
    let offer = parse(sip_offer)?;
    let answer = parse(browser_answer)?;
    let mut chosen = Vec::new();
    let mut media = Vec::new();
    for (kind, local, advertised) in locals {
        let (Some(o), Some(a)) = (
            offer.iter().find(|m| m.kind == Some(*kind) && m.port != 0),
            answer.iter().find(|m| m.kind == Some(*kind) && m.port != 0),
        ) else {
            continue;
        };
        if !o.acceptable(sdes) {
            continue;
        }
        // Their first usable key, answered with one of ours for the same suite and tag.
        let srtp = match sdes {
            SdesMode::Disabled => None,
            _ => o.crypto.first().map(|t| (t.answer(rng), t.clone())),
        };
        // The browser answers with the SIP side's payload types when the gateway's offer
        // carried them (a new call); an offer made on an established transport (media a
        // re-INVITE added) has the browser's own, so a codec is matched by its format.
        let sip_codec = |c: &Codec| {
            o.codecs
                .iter()
                .find(|oc| oc.pt == c.pt && oc.same_format(c))
                .or_else(|| o.codecs.iter().find(|oc| oc.same_format(c)))
        };
        let Some((picked, theirs)) = a
            .codecs
            .iter()
            .filter(|c| c.name != "telephone-event")
            .find_map(|c| sip_codec(c).map(|oc| (c, oc.clone())))
        else {
            continue;
        };
        let dtmf = o
            .codecs
            .iter()
            .find(|c| c.name == "telephone-event")
            .and_then(|ot| {
                a.codecs
                    .iter()
                    .find(|c| c.name == "telephone-event" && c.clock == ot.clock)
                    .map(|at| (ot.pt, at.pt))
            });
        let remote = match o.addr {
            Some(ip) if !ip.is_unspecified() => Some(SocketAddr::new(ip, o.port)),
            _ => None,
        };
        let mut codecs = vec![theirs.clone()];
        if let Some((sip_te, _)) = dtmf {
            if let Some(te) = o.codecs.iter().find(|c| c.pt == sip_te) {
                codecs.push(te.clone());
            }
        }
        media.push(Offered {
            kind: *kind,
            local: *local,
            advertised: *advertised,
            codecs,
            crypto: srtp.iter().map(|(ours, _)| ours.clone()).collect(),
            secure: o.secure(),
            transcoded: Vec::new(),
        });
        chosen.push(Chosen {
            kind: *kind,
            local: *local,
            advertised: *advertised,
            remote,
            sip_pt: theirs.pt,
            codec: theirs,
            webrtc_pt: picked.pt,
            dtmf,
            direction: o.direction,
            secure: o.secure(),
            srtp,
        });
    }
    if chosen.is_empty() {
        return Err(SdpError::NoCommonCodec);
    }
    let dir = answer_direction(chosen[0].direction);
    Ok((chosen, render(&media, session_id, dir)))
}

/// The direction of the first audio (else first) media line of an SDP.
pub fn main_direction(sdp: &str) -> Result<Direction, SdpError> {
    let lines = parse(sdp)?;
    let m = lines
        .iter()
        .find(|m| m.kind == Some(Kind::Audio))
        .or(lines.first())
        .ok_or(SdpError::NoMedia)?;
    Ok(m.direction)
}

/// Re-negotiation from the SIP side (re-INVITE): the legs' new remote address and direction
/// per kind, and the plain answer: every media line of the offer in its order, a leg's with
/// its codec and the complementary direction, any other refused (port 0).
pub fn reoffer_from_sip(
    current: &[Chosen],
    sip_offer: &str,
    session_id: u64,
) -> Result<(Vec<Chosen>, String), SdpError> {
    let lines = parse(sip_offer)?;
    let mut updated = Vec::new();
    let mut media = Vec::new();
    for m in &lines {
        let Some(c) = m.kind.and_then(|k| current.iter().find(|c| c.kind == k)) else {
            media.push((refused(m), Direction::Inactive));
            continue;
        };
        if updated.iter().any(|u: &Chosen| u.kind == c.kind) {
            // A second line of a kind: the gateway bridges one per kind.
            media.push((refused(m), Direction::Inactive));
            continue;
        }
        let mut n = c.clone();
        n.remote = match m.addr {
            Some(ip) if !ip.is_unspecified() && m.port != 0 => Some(SocketAddr::new(ip, m.port)),
            _ => None,
        };
        n.direction = m.direction;
        // A re-offer may bring a new key (RFC 4568 §7.1.4); ours answers under its tag.
        if let Some((ours, _)) = &c.srtp {
            if let Some(t) = m.crypto.iter().find(|t| t.suite == ours.suite) {
                let mut ours = ours.clone();
                ours.tag = t.tag;
                n.srtp = Some((ours, t.clone()));
            }
        }
        let mut line = leg_media(&n);
        if m.port == 0 {
            line.advertised.set_port(0);
        }
        media.push((line, answer_direction(m.direction)));
        updated.push(n);
    }
    if updated.is_empty() {
        return Err(SdpError::NoCommonCodec);
    }
    let lines: Vec<(&Offered, Direction)> = media.iter().map(|(m, d)| (m, *d)).collect();
    Ok((updated, render_lines(&lines, session_id)))
}

/// A refused media line of an answer: port 0 and the offer's first format.
fn refused(m: &MediaLine) -> Offered {
    let codecs = m
        .codecs
        .first()
        .cloned()
        .map(|c| vec![c])
        .unwrap_or_else(|| static_codec(0).into_iter().collect());
    Offered {
        kind: m.kind.unwrap_or(Kind::Audio),
        local: SocketAddr::from(([0, 0, 0, 0], 0)),
        advertised: SocketAddr::from(([0, 0, 0, 0], 0)),
        codecs,
        crypto: Vec::new(),
        secure: m.secure(),
        transcoded: Vec::new(),
    }
}

/// The kinds an offer (the browser's or the SIP side's) adds to a call: media lines with a
/// port and a codec the gateway bridges, of a kind the call has no leg for.
pub fn added_kinds(current: &[Chosen], offer: &str) -> Result<Vec<Kind>, SdpError> {
    let mut kinds = Vec::new();
    for m in parse(offer)? {
        let Some(kind) = m.kind else { continue };
        if m.port == 0 || current.iter().any(|c| c.kind == kind) || kinds.contains(&kind) {
            continue;
        }
        if m.codecs
            .iter()
            .any(|c| c.name != "telephone-event" && bridgeable(kind, c))
        {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// The kinds of the call a browser's new offer removes (its line has port 0, or is gone).
pub fn removed_kinds(current: &[Chosen], offer: &str) -> Result<Vec<Kind>, SdpError> {
    let lines = parse(offer)?;
    Ok(current
        .iter()
        .map(|c| c.kind)
        .filter(|k| !lines.iter().any(|m| m.kind == Some(*k) && m.port != 0))
        .collect())
}

/// A plain re-INVITE offer for the browser's new offer: the current legs (port 0 for the
/// kinds it removed) in their order, then the media it adds (`added`, from
/// [`plain_offer`]), all with the browser's direction.
pub fn reoffer_changed(
    current: &[Chosen],
    removed: &[Kind],
    added: &[Offered],
    dir: Direction,
    session_id: u64,
) -> String {
    let mut media: Vec<Offered> = current.iter().map(leg_media).collect();
    for m in &mut media {
        if removed.contains(&m.kind) {
            m.advertised.set_port(0);
        }
    }
    media.extend(added.iter().cloned());
    render(&media, session_id, dir)
}

/// A plain SDP for the current legs with a given direction (a re-INVITE the gateway sends
/// when the browser holds or resumes).
pub fn reoffer_to_sip(current: &[Chosen], dir: Direction, session_id: u64) -> String {
    reoffer_changed(current, &[], &[], dir, session_id)
}

/// What an established leg puts in a re-INVITE or its answer: its codec and telephone-event
/// with the SIP side's payload types, on its advertised address.
fn leg_media(c: &Chosen) -> Offered {
    let mut codecs = vec![Codec {
        pt: c.sip_pt,
        ..c.codec.clone()
    }];
    if let Some((sip_te, _)) = c.dtmf {
        codecs.push(Codec {
            pt: sip_te,
            name: "telephone-event".into(),
            clock: 8000,
            channels: 1,
            fmtp: Some("0-16".into()),
        });
    }
    Offered {
        kind: c.kind,
        local: c.local,
        advertised: c.advertised,
        codecs,
        crypto: c.srtp.iter().map(|(ours, _)| ours.clone()).collect(),
        secure: c.secure,
        transcoded: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_opus_only_browser_is_offered_with_transcoded_codecs_taken_last() {
        let browser = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 126\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
a=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n";
        let leg: SocketAddr = "10.0.0.1:30000".parse().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let (sdp, offered) = plain_offer(
            browser,
            &[(Kind::Audio, leg, leg)],
            1,
            SdesMode::Disabled,
            &mut rng,
        )
        .unwrap();
        assert!(
            sdp.contains("m=audio 30000 RTP/AVP 111 126 9 0 8\r\n"),
            "{sdp}"
        );
        assert_eq!(offered[0].transcoded, vec![9, 0, 8]);
        let answer = |pts: &str, maps: &str| {
            format!("v=0\r\no=p 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 17000 RTP/AVP {pts}\r\n{maps}")
        };
        // Only G.722: transcoded.
        let g722 = answer("9", "a=rtpmap:9 G722/8000\r\n");
        assert_eq!(negotiate(&offered, &g722).unwrap()[0].codec.name, "g722");
        // The phone prefers PCMU but has Opus too: Opus passes through.
        let both = answer(
            "0 111",
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2\r\n",
        );
        assert_eq!(negotiate(&offered, &both).unwrap()[0].codec.name, "opus");
    }

    #[test]
    fn h264_matches_on_profile_and_packetization_mode() {
        use h264::{compatible, profile, Profile};
        let cb = Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
        // Constrained Baseline written three ways, at any level.
        assert_eq!(profile(cb), Some(Profile::ConstrainedBaseline));
        assert_eq!(
            profile(Some("profile-level-id=42C015")),
            Some(Profile::ConstrainedBaseline)
        );
        assert_eq!(
            profile(Some("profile-level-id=4d801f")),
            Some(Profile::ConstrainedBaseline)
        );
        assert_eq!(
            profile(Some("profile-level-id=42001f")),
            Some(Profile::Baseline)
        );
        assert_eq!(profile(None), Some(Profile::Baseline), "RFC 6184's default");
        assert_eq!(
            profile(Some("profile-level-id=4d001f")),
            Some(Profile::Main)
        );
        assert_eq!(
            profile(Some("profile-level-id=640c1f")),
            Some(Profile::ConstrainedHigh)
        );
        assert_eq!(
            profile(Some("profile-level-id=64001f")),
            Some(Profile::High)
        );
        assert_eq!(profile(Some("profile-level-id=zz")), None);
        assert!(compatible(
            cb,
            Some("packetization-mode=1;profile-level-id=42e00a")
        ));
        assert!(
            !compatible(cb, Some("profile-level-id=42e01f")),
            "mode 0 against mode 1"
        );
        assert!(!compatible(
            cb,
            Some("packetization-mode=1;profile-level-id=64001f")
        ));
        assert!(!compatible(
            Some("profile-level-id=zz"),
            Some("profile-level-id=zz")
        ));
        // In negotiation: a phone answering High is not taken for the browser's Constrained
        // Baseline; one answering Constrained Baseline at another level is.
        let h264 = |pt, fmtp: &str| Codec {
            pt,
            name: "h264".into(),
            clock: 90000,
            channels: 1,
            fmtp: Some(fmtp.into()),
        };
        let ours = h264(102, "packetization-mode=1;profile-level-id=42e01f");
        assert!(ours.same_format(&h264(99, "packetization-mode=1;profile-level-id=42e00d")));
        assert!(!ours.same_format(&h264(99, "packetization-mode=1;profile-level-id=640032")));
        assert!(!ours.same_format(&h264(99, "packetization-mode=0;profile-level-id=42e01f")));
    }

    const CHROME_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:102 H264/90000\r\n";

    fn local(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn offer_keeps_bridgeable_codecs_with_browser_pts() {
        let (sdp, offered) = plain_offer(
            CHROME_OFFER,
            &[
                (Kind::Audio, local(30000), local(30000)),
                (Kind::Video, local(30002), local(30002)),
            ],
            42,
            SdesMode::Disabled,
            &mut rand::rng(),
        )
        .unwrap();
        assert!(
            sdp.contains("m=audio 30000 RTP/AVP 111 9 0 8 110 126\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("a=rtpmap:111 opus/48000/2\r\n"));
        assert!(sdp.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
        assert!(sdp.contains("a=rtpmap:0 PCMU/8000\r\n"));
        assert!(sdp.contains("m=video 30002 RTP/AVP 96 102\r\n"));
        assert!(!sdp.contains("red/") && !sdp.contains("rtx/") && !sdp.contains("CN/"));
        assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"));
        assert_eq!(offered.len(), 2);
    }

    #[test]
    fn negotiation_maps_payload_types() {
        let (_, offered) = plain_offer(
            CHROME_OFFER,
            &[(Kind::Audio, local(30000), local(30000))],
            1,
            SdesMode::Disabled,
            &mut rand::rng(),
        )
        .unwrap();
        // A phone answering PCMA with its own dynamic telephone-event PT.
        let answer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 17000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
        let chosen = negotiate(&offered, answer).unwrap();
        assert_eq!(chosen.len(), 1);
        let c = &chosen[0];
        assert_eq!(c.codec.name, "pcma");
        assert_eq!((c.sip_pt, c.webrtc_pt), (8, 8));
        assert_eq!(c.dtmf, Some((101, 126)));
        assert_eq!(c.remote, Some("127.0.0.1:17000".parse().unwrap()));
        // Opus answered with another PT number.
        let answer = answer
            .replace("m=audio 17000 RTP/AVP 8 101", "m=audio 17000 RTP/AVP 98")
            .replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:98 opus/48000/2");
        let c = &negotiate(&offered, &answer).unwrap()[0];
        assert_eq!(
            (c.codec.name.as_str(), c.sip_pt, c.webrtc_pt, c.dtmf),
            ("opus", 98, 111, None)
        );
    }

    #[test]
    fn no_common_codec_and_garbage() {
        let (_, offered) = plain_offer(
            CHROME_OFFER,
            &[(Kind::Audio, local(30000), local(30000))],
            1,
            SdesMode::Disabled,
            &mut rand::rng(),
        )
        .unwrap();
        let answer =
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 17000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(negotiate(&offered, answer), Err(SdpError::NoCommonCodec));
        assert_eq!(
            parse("not sdp").unwrap_err(),
            SdpError::Malformed("does not start with v=".into())
        );
        assert_eq!(parse("v=0\r\n"), Err(SdpError::NoMedia));
        assert!(matches!(
            parse("v=0\r\nm=audio x RTP/AVP 0\r\n"),
            Err(SdpError::Malformed(_))
        ));
        let only_g729 = "v=0\r\nm=audio 9 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(
            plain_offer(
                only_g729,
                &[(Kind::Audio, local(1), local(1))],
                1,
                SdesMode::Disabled,
                &mut rand::rng()
            )
            .unwrap_err(),
            SdpError::NoCommonCodec
        );
        for s in [
            "v=",
            "v=0\nm=",
            "v=0\na=rtpmap:",
            "v=0\r\nm=audio 1 RTP/AVP 96\r\na=rtpmap:96\r\na=fmtp:96\r\n",
        ] {
            let _ = parse(s);
        }
    }

    #[test]
    fn incoming_offer_and_answer() {
        let sip = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 16000 RTP/AVP 8 0 18 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
        let codecs = incoming_codecs(sip, SdesMode::Disabled).unwrap();
        let names: Vec<_> = codecs
            .iter()
            .map(|(_, c)| (c.pt, c.name.as_str()))
            .collect();
        assert_eq!(names, [(8, "pcma"), (0, "pcmu"), (101, "telephone-event")]);
        let browser = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let (chosen, answer) = answer_incoming(
            sip,
            browser,
            &[(Kind::Audio, local(30000), local(30000))],
            9,
            SdesMode::Disabled,
            &mut rand::rng(),
        )
        .unwrap();
        assert_eq!(chosen[0].codec.name, "pcmu");
        assert_eq!(
            (chosen[0].sip_pt, chosen[0].webrtc_pt, chosen[0].dtmf),
            (0, 0, Some((101, 101)))
        );
        assert_eq!(chosen[0].remote, Some("127.0.0.1:16000".parse().unwrap()));
        assert!(
            answer.contains("m=audio 30000 RTP/AVP 0 101\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=sendrecv"));
        let g729 = sip.replace("RTP/AVP 8 0 18 101", "RTP/AVP 18");
        assert_eq!(
            incoming_codecs(&g729, SdesMode::Disabled),
            Err(SdpError::NoCommonCodec)
        );
        // A held offer is answered recvonly.
        let held = sip.replace("a=sendrecv", "a=sendonly");
        let (_, answer) = answer_incoming(
            &held,
            browser,
            &[(Kind::Audio, local(30000), local(30000))],
            9,
            SdesMode::Disabled,
            &mut rand::rng(),
        )
        .unwrap();
        assert!(answer.contains("a=recvonly"));
    }

    #[test]
    fn re_invites_for_hold_both_ways() {
        let (_, offered) = plain_offer(
            CHROME_OFFER,
            &[(Kind::Audio, local(30000), local(30000))],
            1,
            SdesMode::Disabled,
            &mut rand::rng(),
        )
        .unwrap();
        let answer = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 17000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let chosen = negotiate(&offered, answer).unwrap();
        // The phone holds: sendonly from its side, we answer recvonly.
        let hold = answer.replace(
            "a=rtpmap:8 PCMA/8000\r\n",
            "a=rtpmap:8 PCMA/8000\r\na=sendonly\r\n",
        );
        let (updated, sdp) = reoffer_from_sip(&chosen, &hold, 2).unwrap();
        assert_eq!(updated[0].direction, Direction::SendOnly);
        assert!(
            sdp.contains("m=audio 30000 RTP/AVP 8 101\r\n") && sdp.contains("a=recvonly"),
            "{sdp}"
        );
        // The browser holds: our re-INVITE says sendonly.
        let sdp = reoffer_to_sip(&chosen, Direction::SendOnly, 3);
        assert!(
            sdp.contains("a=sendonly") && sdp.contains("RTP/AVP 8 101"),
            "{sdp}"
        );
        assert_eq!(main_direction(&hold).unwrap(), Direction::SendOnly);
    }

    #[test]
    fn hold_is_read_from_the_direction_and_address() {
        let held = "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 17000 RTP/AVP 0\r\na=sendonly\r\n";
        let lines = parse(held).unwrap();
        assert_eq!(lines[0].direction, Direction::SendOnly);
        assert_eq!(lines[0].addr, Some("0.0.0.0".parse().unwrap()));
        assert_eq!(lines[0].codecs[0].name, "pcmu");
    }

    #[test]
    fn sdes_offers_answers_and_refusals_follow_the_mode() {
        let mut rng = rand::rng();
        let legs = [(Kind::Audio, local(30000), local(30000))];
        // Optional: RTP/AVP with a key per suite.
        let (sdp, offered) =
            plain_offer(CHROME_OFFER, &legs, 1, SdesMode::Optional, &mut rng).unwrap();
        assert!(
            sdp.contains("RTP/AVP") && sdp.matches("a=crypto:").count() == 3,
            "{sdp}"
        );
        // A phone answering plain RTP: a plain leg.
        let plain =
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 17000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        assert_eq!(negotiate(&offered, plain).unwrap()[0].srtp, None);
        // One answering with its key under our second tag: that suite, both keys.
        let theirs = Crypto::random(2, super::super::sdes::Suite::AesCm128HmacSha1_32, &mut rng);
        let keyed = format!("{plain}{}", theirs.line());
        let chosen = negotiate(&offered, &keyed).unwrap();
        let (ours, got) = chosen[0].srtp.clone().unwrap();
        assert_eq!((ours.tag, &got), (2, &theirs));
        // Re-INVITEs and answers of the leg carry our key again.
        let again = reoffer_to_sip(&chosen, Direction::SendRecv, 2);
        assert!(again.contains(&ours.line()), "{again}");
        // Mandatory: RTP/SAVP, and a plain answer is no answer.
        let (sdp, offered) =
            plain_offer(CHROME_OFFER, &legs, 1, SdesMode::Mandatory, &mut rng).unwrap();
        assert!(sdp.contains("RTP/SAVP"), "{sdp}");
        assert_eq!(negotiate(&offered, plain), Err(SdpError::NoCommonCodec));
        // Disabled: no keys at all.
        let (sdp, _) = plain_offer(CHROME_OFFER, &legs, 1, SdesMode::Disabled, &mut rng).unwrap();
        assert!(!sdp.contains("crypto") && !sdp.contains("SAVP"), "{sdp}");

        // Incoming: a SAVP offer with a key.
        let key = Crypto::random(7, super::super::sdes::Suite::AesCm128HmacSha1_80, &mut rng);
        let savp = format!(
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 17000 RTP/SAVP 8\r\na=rtpmap:8 PCMA/8000\r\n{}",
            key.line()
        );
        assert_eq!(
            incoming_codecs(&savp, SdesMode::Disabled),
            Err(SdpError::NoCommonCodec)
        );
        assert_eq!(
            incoming_codecs(plain, SdesMode::Mandatory),
            Err(SdpError::NoCommonCodec)
        );
        assert!(incoming_codecs(plain, SdesMode::Optional).is_ok());
        let browser = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=rtpmap:8 PCMA/8000\r\n";
        let (chosen, answer) =
            answer_incoming(&savp, browser, &legs, 3, SdesMode::Optional, &mut rng).unwrap();
        let (ours, got) = chosen[0].srtp.clone().unwrap();
        assert_eq!((ours.tag, ours.suite, &got), (7, key.suite, &key));
        assert!(
            answer.contains("RTP/SAVP") && answer.contains(&ours.line()),
            "{answer}"
        );
    }

    #[test]
    fn renegotiations_add_remove_and_answer_every_offered_line() {
        let mut rng = rand::rng();
        let audio = [(Kind::Audio, local(30000), local(30000))];
        let (_, offered) =
            plain_offer(CHROME_OFFER, &audio, 1, SdesMode::Disabled, &mut rng).unwrap();
        let answer =
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 17000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        let chosen = negotiate(&offered, answer).unwrap();
        // The browser adds video: a new kind, offered after the existing line.
        assert_eq!(added_kinds(&chosen, CHROME_OFFER).unwrap(), [Kind::Video]);
        let video = [(Kind::Video, local(30002), local(30002))];
        let (_, new) = plain_offer(CHROME_OFFER, &video, 2, SdesMode::Disabled, &mut rng).unwrap();
        let sdp = reoffer_changed(&chosen, &[], &new, Direction::SendRecv, 2);
        let a = sdp.find("m=audio 30000 RTP/AVP 8").expect("audio kept");
        let v = sdp.find("m=video 30002 RTP/AVP").expect("video added");
        assert!(a < v, "{sdp}");
        // The browser removes audio (port 0): offered with port 0, nothing else of it.
        let removed = CHROME_OFFER.replacen("m=audio 9 ", "m=audio 0 ", 1);
        assert_eq!(removed_kinds(&chosen, &removed).unwrap(), [Kind::Audio]);
        let sdp = reoffer_changed(&chosen, &[Kind::Audio], &[], Direction::SendRecv, 3);
        assert!(
            sdp.contains("m=audio 0 RTP/AVP 8\r\n") && !sdp.contains("a=rtcp:"),
            "{sdp}"
        );
        // A phone's re-offer with a line the call has no leg for: answered in the offer's
        // order, that line refused with port 0.
        let reoffer = format!("{answer}m=video 17002 RTP/AVP 100\r\na=rtpmap:100 VP8/90000\r\n");
        let (_, sdp) = reoffer_from_sip(&chosen, &reoffer, 4).unwrap();
        let a = sdp.find("m=audio 30000 ").expect("audio answered");
        let v = sdp.find("m=video 0 RTP/AVP 100").expect("video refused");
        assert!(a < v, "{sdp}");
    }
}
