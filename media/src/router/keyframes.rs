//! Does this RTP packet start a keyframe? Per codec, from the payload's first bytes: the
//! router opens a consumer's keyframe gate on it and clears a pending keyframe request.

use super::vp8;
use crate::ids::VideoCodec;

pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8::starts_keyframe(payload),
        VideoCodec::Vp9 => vp9_starts_keyframe(payload),
        VideoCodec::H264 => h264_starts_keyframe(payload),
    }
}

/// VP9 (RFC 9628 §4.2): the payload descriptor's B bit (start of a frame) with P clear (not
/// predicted from an earlier picture).
fn vp9_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let predicted = first & 0x40 != 0;
    let begins = first & 0x08 != 0;
    begins && !predicted
}

/// NAL unit types (RFC 6184 §5.2) that begin a keyframe: an IDR slice, or the sequence
/// parameter set browsers send right before one.
fn is_key_nal(nal_type: u8) -> bool {
    matches!(nal_type, 5 | 7)
}

/// H.264 (RFC 6184): a single NAL unit of a key type, a STAP-A holding one, or the first
/// fragment (FU-A, S bit) of one.
fn h264_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    match header & 0x1f {
        24 => {
            // STAP-A: 16-bit sizes, each followed by a NAL unit.
            let mut at = 1;
            while let Some(size) = payload.get(at..at + 2) {
                let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
                let Some(&nal) = payload.get(at + 2) else {
                    return false;
                };
                if size > 0 && is_key_nal(nal & 0x1f) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key_nal(fu & 0x1f)),
        t => is_key_nal(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_keyframes_in_every_packetization() {
        // Single NAL units: IDR (0x65), SPS (0x67), a non-IDR slice (0x41).
        assert!(starts_keyframe(VideoCodec::H264, &[0x65, 0x88]));
        assert!(starts_keyframe(VideoCodec::H264, &[0x67, 0x42]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x41, 0x9a]));
        // STAP-A with SPS and PPS, and one with only a slice.
        let stap = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
        assert!(starts_keyframe(VideoCodec::H264, &stap));
        assert!(!starts_keyframe(
            VideoCodec::H264,
            &[0x78, 0x00, 0x02, 0x41, 0x9a]
        ));
        // FU-A: the start of an IDR, its middle, the start of a non-IDR slice.
        assert!(starts_keyframe(VideoCodec::H264, &[0x7c, 0x85, 0xb8]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0xb8]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x7c, 0x81, 0xb8]));
        // Truncated and hostile sizes end the walk.
        for cut in 0..stap.len() {
            let _ = starts_keyframe(VideoCodec::H264, &stap[..cut]);
        }
        assert!(!starts_keyframe(
            VideoCodec::H264,
            &[0x78, 0xff, 0xff, 0x41]
        ));
        assert!(!starts_keyframe(VideoCodec::H264, &[]));
    }

    #[test]
    fn vp9_keyframes_begin_unpredicted_frames() {
        // I=1, B=1, P=0: the start of a keyframe (as Chrome sends it, with a picture id).
        assert!(starts_keyframe(VideoCodec::Vp9, &[0x88, 0x80, 0x01, 0x82]));
        // Predicted (P=1), or not the beginning of the frame (B=0).
        assert!(!starts_keyframe(VideoCodec::Vp9, &[0xc8, 0x80, 0x02]));
        assert!(!starts_keyframe(VideoCodec::Vp9, &[0x84, 0x80, 0x01]));
        assert!(!starts_keyframe(VideoCodec::Vp9, &[]));
    }
}
