//! Just enough STUN to route a datagram to its peer: is it STUN, which local ICE ufrag does
//! its USERNAME name (`ourUfrag:theirUfrag`), and is it a Binding request signed with our ICE
//! password (MESSAGE-INTEGRITY, RFC 8489 §14.5)? The ufrag travels in clear, so only a signed
//! request may move a peer to a new address or count as consent. No panic on any input.

/// Datagram classes on the shared media port (RFC 7983 first-byte ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Stun,
    Dtls,
    Rtp,
    Other,
}

pub fn classify(packet: &[u8]) -> Class {
    match packet.first() {
        Some(0..=3) => Class::Stun,
        Some(20..=63) => Class::Dtls,
        Some(128..=191) => Class::Rtp,
        _ => Class::Other,
    }
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const BINDING_REQUEST: u16 = 0x0001;
const HEADER: usize = 20;
const INTEGRITY_LEN: usize = 20;

/// The attributes of a STUN message: (type, value, offset of the attribute in the packet).
fn attributes(packet: &[u8]) -> impl Iterator<Item = (u16, &[u8], usize)> {
    let valid = packet.len() >= HEADER && packet[4..8] == MAGIC_COOKIE && packet[0] & 0xc0 == 0;
    let len = if valid {
        usize::from(u16::from_be_bytes([packet[2], packet[3]]))
    } else {
        0
    };
    let body = packet.get(HEADER..HEADER + len).unwrap_or_default();
    let mut at = 0;
    std::iter::from_fn(move || {
        let head = body.get(at..at + 4)?;
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let alen = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let value = body.get(at + 4..at + 4 + alen)?;
        let offset = HEADER + at;
        at += 4 + alen.div_ceil(4) * 4;
        Some((kind, value, offset))
    })
}

/// Whether `packet` is a STUN Binding request (signed or not).
pub fn is_binding_request(packet: &[u8]) -> bool {
    packet.len() >= HEADER && u16::from_be_bytes([packet[0], packet[1]]) == BINDING_REQUEST
}

/// Whether `packet` is a STUN Binding request whose MESSAGE-INTEGRITY is an HMAC-SHA1 keyed
/// with `pwd` (our ICE password, the short-term credential) over the message up to it.
pub fn authentic_binding_request(
    packet: &[u8],
    pwd: &str,
    crypto: &dyn rtc::crypto::RTCCrypto,
) -> bool {
    if !is_binding_request(packet) {
        return false;
    }
    let Some((_, tag, offset)) = attributes(packet).find(|(k, _, _)| *k == ATTR_MESSAGE_INTEGRITY)
    else {
        return false;
    };
    if tag.len() != INTEGRITY_LEN {
        return false;
    }
    // The length field as it was when the sender computed the HMAC: up to and including the
    // MESSAGE-INTEGRITY attribute (a FINGERPRINT may follow it).
    let Ok(signed_len) = u16::try_from(offset + 4 + INTEGRITY_LEN - HEADER) else {
        return false;
    };
    let Ok(mut mac) = crypto.new_hmac(rtc::crypto::HmacAlgorithm::Sha1, pwd.as_bytes()) else {
        return false;
    };
    let length = signed_len.to_be_bytes();
    let input: [&[u8]; 3] = [&packet[0..2], &length, &packet[4..offset]];
    mac.verify(&input, tag).is_ok()
}

const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_FINGERPRINT: u16 = 0x8028;
const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// Writes into `out` the Binding success response to `request` (already checked with
/// [`authentic_binding_request`]) as an ICE agent gives it: XOR-MAPPED-ADDRESS of `from`,
/// MESSAGE-INTEGRITY keyed with our password `pwd`, FINGERPRINT. For checks that arrive
/// before the browser's answer has given `rtc` the remote credentials (a browser checks as
/// soon as it has our offer): answered at once, as libnice does, instead of leaving the
/// browser to retry after its check interval.
pub fn binding_success(
    request: &[u8],
    from: std::net::SocketAddr,
    pwd: &str,
    crypto: &dyn rtc::crypto::RTCCrypto,
    out: &mut Vec<u8>,
) -> bool {
    if request.len() < HEADER {
        return false;
    }
    let txid = &request[8..20];
    out.clear();
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&MAGIC_COOKIE);
    out.extend_from_slice(txid);
    // XOR-MAPPED-ADDRESS.
    let port = from.port() ^ 0x2112;
    match from.ip() {
        std::net::IpAddr::V4(ip) => {
            out.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
            out.extend_from_slice(&8u16.to_be_bytes());
            out.extend_from_slice(&[0, 0x01]);
            out.extend_from_slice(&port.to_be_bytes());
            let o = ip.octets();
            for i in 0..4 {
                out.push(o[i] ^ MAGIC_COOKIE[i]);
            }
        }
        std::net::IpAddr::V6(ip) => {
            out.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
            out.extend_from_slice(&20u16.to_be_bytes());
            out.extend_from_slice(&[0, 0x02]);
            out.extend_from_slice(&port.to_be_bytes());
            let o = ip.octets();
            for i in 0..16 {
                let k = if i < 4 { MAGIC_COOKIE[i] } else { txid[i - 4] };
                out.push(o[i] ^ k);
            }
        }
    }
    // MESSAGE-INTEGRITY over the message with the length counting it.
    let set_len = |out: &mut Vec<u8>, len: usize| {
        let l = (len as u16).to_be_bytes();
        out[2] = l[0];
        out[3] = l[1];
    };
    let mi_at = out.len();
    set_len(out, mi_at + 4 + INTEGRITY_LEN - HEADER);
    let Ok(mut mac) = crypto.new_hmac(rtc::crypto::HmacAlgorithm::Sha1, pwd.as_bytes()) else {
        return false;
    };
    let mut tag = [0u8; INTEGRITY_LEN];
    if mac.sign(&[&out[..]], &mut tag).is_err() {
        return false;
    }
    out.extend_from_slice(&ATTR_MESSAGE_INTEGRITY.to_be_bytes());
    out.extend_from_slice(&(INTEGRITY_LEN as u16).to_be_bytes());
    out.extend_from_slice(&tag);
    // FINGERPRINT: CRC-32 of the message with the length counting it, XOR 0x5354554e.
    let fp_at = out.len();
    set_len(out, fp_at + 8 - HEADER);
    let crc = crc32(&out[..]) ^ FINGERPRINT_XOR;
    out.extend_from_slice(&ATTR_FINGERPRINT.to_be_bytes());
    out.extend_from_slice(&4u16.to_be_bytes());
    out.extend_from_slice(&crc.to_be_bytes());
    true
}

/// CRC-32 (ISO-HDLC, as STUN's FINGERPRINT uses).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// Whether a Binding request nominates its pair (USE-CANDIDATE, RFC 8445 §7.1.2).
pub fn has_use_candidate(packet: &[u8]) -> bool {
    const ATTR_USE_CANDIDATE: u16 = 0x0025;
    attributes(packet).any(|(k, _, _)| k == ATTR_USE_CANDIDATE)
}

/// The local ufrag of a STUN request's USERNAME attribute (the part before `:`).
pub fn local_ufrag(packet: &[u8]) -> Option<&str> {
    let (_, value, _) = attributes(packet).find(|(k, _, _)| *k == ATTR_USERNAME)?;
    let username = std::str::from_utf8(value).ok()?;
    Some(username.split(':').next().unwrap_or(username))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&0x0024u16.to_be_bytes()); // PRIORITY
        attrs.extend_from_slice(&4u16.to_be_bytes());
        attrs.extend_from_slice(&[1, 2, 3, 4]);
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut p = vec![0x00, 0x01];
        p.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        p.extend_from_slice(&MAGIC_COOKIE);
        p.extend_from_slice(&[7; 12]);
        p.extend_from_slice(&attrs);
        p
    }

    #[test]
    fn crc32_is_the_iso_hdlc_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn an_early_check_gets_a_response_the_browser_can_verify() {
        let crypto = rtc::crypto::default_provider().unwrap();
        let crypto = crypto.crypto();
        let req = binding_request(b"local:remote");
        let from: std::net::SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let mut out = Vec::new();
        assert!(binding_success(
            &req,
            from,
            "secretpassword",
            crypto,
            &mut out
        ));
        // Parsed back by rtc's own STUN: a success response with our transaction id, the
        // sender's address, an integrity keyed with our password, and a fingerprint.
        let mut m = rtc::stun::message::Message::new();
        m.raw = out.clone();
        m.decode().unwrap();
        assert_eq!(m.typ.method, rtc::stun::message::METHOD_BINDING);
        assert_eq!(m.typ.class, rtc::stun::message::CLASS_SUCCESS_RESPONSE);
        assert_eq!(&m.transaction_id.0[..], &req[8..20]);
        let mut xor = rtc::stun::xoraddr::XorMappedAddress::default();
        rtc::stun::message::Getter::get_from(&mut xor, &m).unwrap();
        assert_eq!((xor.ip, xor.port), (from.ip(), from.port()));
        rtc::stun::integrity::MessageIntegrity::check(&mut m, b"secretpassword", crypto).unwrap();
        rtc::stun::fingerprint::FINGERPRINT.check(&m).unwrap();
    }

    #[test]
    fn finds_the_local_ufrag() {
        let p = binding_request(b"abcd1234:xyz");
        assert_eq!(classify(&p), Class::Stun);
        assert_eq!(local_ufrag(&p), Some("abcd1234"));
        assert_eq!(local_ufrag(&binding_request(b"solo")), Some("solo"));
    }

    /// `binding_request` signed with `pwd` the way a browser signs it (rtc's STUN encoder).
    fn signed(username: &str, pwd: &str) -> Vec<u8> {
        use rtc::stun::integrity::MessageIntegrity;
        use rtc::stun::message::{Message, Setter, BINDING_REQUEST as BINDING};
        use rtc::stun::textattrs::TextAttribute;
        let provider = rtc::crypto::default_provider().unwrap();
        let mut m = Message::new();
        let setters: Vec<Box<dyn Setter + '_>> = vec![
            Box::new(BINDING),
            Box::new(TextAttribute::new(
                rtc::stun::attributes::ATTR_USERNAME,
                username.into(),
            )),
            Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
                pwd.into(),
                provider.crypto(),
            )),
            Box::new(rtc::stun::fingerprint::FINGERPRINT),
        ];
        m.build(&setters).unwrap();
        m.raw
    }

    #[test]
    fn only_a_request_signed_with_our_password_is_authentic() {
        let provider = rtc::crypto::default_provider().unwrap();
        let crypto = provider.crypto();
        let p = signed("ours:theirs", "the-ice-password-of-this-peer");
        assert_eq!(local_ufrag(&p), Some("ours"));
        assert!(authentic_binding_request(
            &p,
            "the-ice-password-of-this-peer",
            crypto
        ));
        assert!(!authentic_binding_request(&p, "another-password", crypto));
        // Unsigned (only the ufrag, which anyone on the path can read).
        assert!(!authentic_binding_request(
            &binding_request(b"ours:theirs"),
            "x",
            crypto
        ));
        // Any bit changed before the tag.
        for i in [0usize, 3, 8, 21, 25] {
            let mut bad = p.clone();
            bad[i] ^= 0x10;
            assert!(
                !authentic_binding_request(&bad, "the-ice-password-of-this-peer", crypto),
                "byte {i}"
            );
        }
        for cut in 0..p.len() {
            assert!(!authentic_binding_request(
                &p[..cut],
                "the-ice-password-of-this-peer",
                crypto
            ));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let p = binding_request(b"abcd1234:xyz");
        for cut in 0..p.len() {
            let _ = local_ufrag(&p[..cut]);
        }
        let mut bad = p.clone();
        bad[2] = 0xff; // length past the end
        assert_eq!(local_ufrag(&bad), None);
        let mut bad = p.clone();
        bad[27] = 0xff; // attribute length past the end
        let _ = local_ufrag(&bad);
        assert_eq!(local_ufrag(&[]), None);
        assert_eq!(classify(&[]), Class::Other);
        assert_eq!(classify(&[0x80, 0]), Class::Rtp);
        assert_eq!(classify(&[22, 0]), Class::Dtls);
    }
}
