//! VP8 RTP payload inspection (RFC 7741): does this packet start a keyframe?

/// True if the packet carries the first partition of a VP8 keyframe.
pub fn starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0;
    let pid = first & 0x07;
    if !start || pid != 0 {
        return false;
    }
    let mut at = 1;
    if extended {
        let Some(&x) = payload.get(1) else {
            return false;
        };
        at = 2;
        if x & 0x80 != 0 {
            // PictureID: one or two bytes.
            let Some(&m) = payload.get(at) else {
                return false;
            };
            at += if m & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID/KEYIDX
        }
    }
    // Frame header: bit 0 of the first byte is the inverse keyframe flag.
    payload.get(at).is_some_and(|b| b & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_and_interframes() {
        // S=1, PID=0, no extension; frame byte 0x10 (P=0): keyframe.
        assert!(starts_keyframe(&[0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]));
        // Interframe (P=1).
        assert!(!starts_keyframe(&[0x10, 0x11, 0x00]));
        // Continuation packet (S=0).
        assert!(!starts_keyframe(&[0x00, 0x10]));
        // Extended with a two-byte PictureID (as Chrome sends).
        assert!(starts_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x50]));
        assert!(!starts_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x51]));
        // With TL0PICIDX and TID.
        assert!(starts_keyframe(&[0x90, 0xe0, 0x05, 0x01, 0x20, 0x00]));
        for cut in 0..6 {
            let _ = starts_keyframe(&[0x90, 0xe0, 0x85, 0x01, 0x20, 0x00][..cut]);
        }
    }
}
