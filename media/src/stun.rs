//! Just enough STUN to route a datagram to its peer: is it STUN, and which local ICE ufrag
//! does its USERNAME name (`ourUfrag:theirUfrag`)? No allocation, no panic on any input.

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

/// The local ufrag of a STUN request's USERNAME attribute (the part before `:`).
pub fn local_ufrag(packet: &[u8]) -> Option<&str> {
    if packet.len() < 20 || packet[4..8] != MAGIC_COOKIE || packet[0] & 0xc0 != 0 {
        return None;
    }
    let len = u16::from_be_bytes([packet[2], packet[3]]) as usize;
    let body = packet.get(20..20 + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let alen = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + alen)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return Some(username.split(':').next().unwrap_or(username));
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
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
    fn finds_the_local_ufrag() {
        let p = binding_request(b"abcd1234:xyz");
        assert_eq!(classify(&p), Class::Stun);
        assert_eq!(local_ufrag(&p), Some("abcd1234"));
        assert_eq!(local_ufrag(&binding_request(b"solo")), Some("solo"));
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
