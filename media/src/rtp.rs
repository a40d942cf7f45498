//! RTP as bytes: the header fields the bridge and the send path read and write (RFC 3550),
//! and RTP/RTCP demultiplexing on one port (RFC 5761). No state, no allocation.

/// The parts of a received RTP packet the gateway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Parses an RTP packet (RFC 3550 header, CSRCs, extension, padding); `None` if it is not
/// well-formed RTP or is RTCP.
pub fn parse_rtp(data: &[u8]) -> Option<RtpView<'_>> {
    if data.len() < 12 || data[0] >> 6 != 2 || is_rtcp(data) {
        return None;
    }
    let cc = usize::from(data[0] & 0x0f);
    let mut at = 12 + 4 * cc;
    if data[0] & 0x10 != 0 {
        let ext = data.get(at + 2..at + 4)?;
        at += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = data.len();
    if data[0] & 0x20 != 0 {
        let pad = usize::from(*data.last()?);
        end = end.checked_sub(pad)?;
    }
    let payload = data.get(at..end)?;
    Some(RtpView {
        marker: data[1] & 0x80 != 0,
        payload_type: data[1] & 0x7f,
        sequence_number: u16::from_be_bytes([data[2], data[3]]),
        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
        payload,
    })
}

/// RTCP packet types 200-206 in the second byte (RFC 5761 demultiplexing).
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 8 && data[0] >> 6 == 2 && (200..=206).contains(&data[1])
}

/// Writes a 12-byte RTP header and the payload into `buf` (cleared first).
pub fn write_rtp(
    buf: &mut Vec<u8>,
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: &[u8],
) {
    buf.clear();
    buf.push(0x80);
    buf.push(if marker { 0x80 | pt } else { pt });
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ts.to_be_bytes());
    buf.extend_from_slice(&ssrc.to_be_bytes());
    buf.extend_from_slice(payload);
}
