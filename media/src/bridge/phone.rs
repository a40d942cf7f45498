//! The SDP answer to a phone that joins a room's audio mix: one audio line, the first codec
//! of the offer the mixer prefers ([`AudioCodec::PREFERENCE`]: Opus, then G.722, then G.711;
//! wideband first), plus telephone-event at that clock when offered (its digits are logged).

use std::net::SocketAddr;

use super::sdes::{Crypto, SdesMode};
use super::sdp::{self, answer_direction, Chosen, Codec, Direction, Offered, SdpError};
use crate::ids::Kind;
use crate::mix::codec::AudioCodec;

/// The leg negotiated with a phone, the codec of its audio, and the SDP answer.
pub fn answer_phone(
    offer: &str,
    local: SocketAddr,
    advertised: SocketAddr,
    session_id: u64,
    sdes: SdesMode,
    rng: &mut impl rand::RngCore,
) -> Result<(Chosen, AudioCodec, String), SdpError> {
    let lines = sdp::parse(offer)?;
    let o = lines
        .iter()
        .find(|m| m.kind == Some(Kind::Audio) && m.port != 0 && m.acceptable(sdes))
        .ok_or(SdpError::NoCommonCodec)?;
    let (theirs, codec) = AudioCodec::PREFERENCE
        .iter()
        .find_map(|want| {
            o.codecs
                .iter()
                .find(|c| AudioCodec::from_rtpmap(&c.name, c.clock) == Some(*want))
                .map(|c| (c.clone(), *want))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let te = o
        .codecs
        .iter()
        .find(|c| c.name == "telephone-event" && c.clock == theirs.clock)
        .cloned();
    let srtp = match sdes {
        SdesMode::Disabled => None,
        _ => o.crypto.first().map(|t| (t.answer(rng), t.clone())),
    };
    let remote = match o.addr {
        Some(ip) if !ip.is_unspecified() => Some(SocketAddr::new(ip, o.port)),
        _ => None,
    };
    let mut codecs = vec![theirs.clone()];
    codecs.extend(te.clone());
    let media = Offered {
        kind: Kind::Audio,
        local,
        advertised,
        codecs,
        crypto: srtp.iter().map(|(ours, _)| ours.clone()).collect(),
        secure: o.secure(),
        transcoded: Vec::new(),
    };
    let chosen = Chosen {
        kind: Kind::Audio,
        local,
        advertised,
        remote,
        sip_pt: theirs.pt,
        webrtc_pt: theirs.pt,
        codec: theirs,
        dtmf: te.map(|t| (t.pt, t.pt)),
        direction: o.direction,
        secure: o.secure(),
        srtp,
    };
    let answer = sdp::render(&[media], session_id, answer_direction(o.direction));
    Ok((chosen, codec, answer))
}

/// The codecs offered to a phone the gateway calls (a room's dial-out), in preference order.
fn offered_codecs() -> Vec<Codec> {
    let codec = |pt, name: &str, clock, channels| Codec {
        pt,
        name: name.to_string(),
        clock,
        channels,
        fmtp: None,
    };
    vec![
        codec(111, "opus", 48000, 2),
        codec(9, "g722", 8000, 1),
        codec(0, "pcmu", 8000, 1),
        codec(8, "pcma", 8000, 1),
        codec(101, "telephone-event", 8000, 1),
    ]
}

/// The SDP offer of a call from a room to a phone (dial-out), and what it offered.
pub fn offer_phone(
    local: SocketAddr,
    advertised: SocketAddr,
    session_id: u64,
    sdes: SdesMode,
    rng: &mut impl rand::Rng,
) -> (String, Offered) {
    let offered = Offered {
        kind: Kind::Audio,
        local,
        advertised,
        codecs: offered_codecs(),
        crypto: match sdes {
            SdesMode::Disabled => Vec::new(),
            _ => Crypto::offer(rng),
        },
        secure: sdes == SdesMode::Mandatory,
        transcoded: Vec::new(),
    };
    let sdp = sdp::render(
        std::slice::from_ref(&offered),
        session_id,
        Direction::SendRecv,
    );
    (sdp, offered)
}

/// The phone answered the dial-out's offer: the leg and the codec of its audio.
pub fn answered_phone(offered: &Offered, answer: &str) -> Result<(Chosen, AudioCodec), SdpError> {
    let chosen = sdp::negotiate(std::slice::from_ref(offered), answer)?
        .into_iter()
        .next()
        .ok_or(SdpError::NoCommonCodec)?;
    let codec = AudioCodec::from_rtpmap(&chosen.codec.name, chosen.codec.clock)
        .ok_or(SdpError::NoCommonCodec)?;
    Ok((chosen, codec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn offer(codecs: &str, maps: &str) -> String {
        format!(
            "v=0\r\no=p 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n\
m=audio 17000 RTP/AVP {codecs}\r\n{maps}a=sendrecv\r\n"
        )
    }

    fn answer(o: &str) -> Result<(Chosen, AudioCodec, String), SdpError> {
        let local: SocketAddr = "10.0.0.1:30000".parse().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        answer_phone(o, local, local, 7, SdesMode::Optional, &mut rng)
    }

    #[test]
    fn wideband_is_preferred_over_the_phones_order() {
        let o = offer(
            "0 8 9 101",
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let (chosen, codec, sdp) = answer(&o).unwrap();
        assert_eq!(codec, AudioCodec::G722);
        assert_eq!(chosen.sip_pt, 9);
        assert_eq!(chosen.dtmf, Some((101, 101)));
        assert_eq!(chosen.remote, Some("10.0.0.9:17000".parse().unwrap()));
        assert!(sdp.contains("m=audio 30000 RTP/AVP 9 101\r\n"), "{sdp}");
        assert!(sdp.contains("a=sendrecv"));
    }

    #[test]
    fn a_dial_out_offers_every_mix_codec_and_takes_the_phones_choice() {
        let local: SocketAddr = "10.0.0.1:30000".parse().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let (sdp, offered) = offer_phone(local, local, 9, SdesMode::Disabled, &mut rng);
        assert!(
            sdp.contains("m=audio 30000 RTP/AVP 111 9 0 8 101\r\n"),
            "{sdp}"
        );
        let answer = offer(
            "8 101",
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let (chosen, codec) = answered_phone(&offered, &answer).unwrap();
        assert_eq!(codec, AudioCodec::Pcma);
        assert_eq!(chosen.sip_pt, 8);
        assert_eq!(chosen.dtmf, Some((101, 101)));
        let refused = offer("18", "a=rtpmap:18 G729/8000\r\n");
        assert_eq!(
            answered_phone(&offered, &refused).unwrap_err(),
            SdpError::NoCommonCodec
        );
    }

    #[test]
    fn opus_first_then_g711_and_nothing_usable_is_no_common_codec() {
        let o = offer(
            "0 96",
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:96 opus/48000/2\r\n",
        );
        assert_eq!(answer(&o).unwrap().1, AudioCodec::Opus);
        let o = offer("8", "a=rtpmap:8 PCMA/8000\r\n");
        assert_eq!(answer(&o).unwrap().1, AudioCodec::Pcma);
        let o = offer("18", "a=rtpmap:18 G729/8000\r\n");
        assert_eq!(answer(&o).unwrap_err(), SdpError::NoCommonCodec);
        assert!(answer("garbage").is_err());
    }
}
