//! Sequence-number and timestamp rewriting for one outgoing stream.
//!
//! A subscriber sees one continuous RTP stream per kind even when what is forwarded to it
//! changes source (a simulcast layer switch, a paused and resumed feed): at each switch the
//! next packet is mapped to continue right after the last one sent, and later packets of the
//! same source keep their spacing. Arithmetic wraps (16-bit sequence numbers, 32-bit
//! timestamps). Packets older than the switch point are dropped rather than sent out of range.

#[derive(Debug, Clone, Default)]
pub struct Munger {
    state: Option<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    seq_offset: u16,
    ts_offset: u32,
    /// First input sequence number of the current source (older ones are dropped).
    base_seq: u16,
    last_out_seq: u16,
    last_out_ts: u32,
    /// Set by `switch`: the next packet starts a new mapping.
    resync: bool,
}

/// How far behind the newest packet the "older than the switch" limit trails.
const BASE_WINDOW: i16 = 4096;

/// Difference `a - b` interpreted in the 16-bit circle (positive: `a` is newer).
fn seq_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

impl Munger {
    pub fn new() -> Self {
        Munger::default()
    }

    /// The next packet comes from a new source (layer switch, resume): re-base on it.
    /// `ts_gap` is the timestamp step to leave after the last packet sent (one frame).
    pub fn switch(&mut self) {
        if let Some(s) = self.state.as_mut() {
            s.resync = true;
        }
    }

    /// The input sequence number of an output one already sent under the current mapping,
    /// and the timestamp offset: a retransmission request names what the subscriber got.
    /// `None` for one from before the last switch, or never sent.
    pub fn unmap(&self, out_seq: u16) -> Option<(u16, u32)> {
        let s = self.state.as_ref().filter(|s| !s.resync)?;
        if seq_diff(out_seq, s.last_out_seq) > 0 {
            return None;
        }
        let seq = out_seq.wrapping_sub(s.seq_offset);
        (seq_diff(seq, s.base_seq) >= 0).then_some((seq, s.ts_offset))
    }

    /// Rewrites `(seq, ts)`; `None` means drop the packet (it predates the current mapping).
    pub fn map(&mut self, seq: u16, ts: u32, ts_step: u32) -> Option<(u16, u32)> {
        match self.state.as_mut() {
            None => {
                self.state = Some(State {
                    seq_offset: 0,
                    ts_offset: 0,
                    base_seq: seq,
                    last_out_seq: seq,
                    last_out_ts: ts,
                    resync: false,
                });
                Some((seq, ts))
            }
            Some(s) if s.resync => {
                let out_seq = s.last_out_seq.wrapping_add(1);
                let out_ts = s.last_out_ts.wrapping_add(ts_step.max(1));
                s.seq_offset = out_seq.wrapping_sub(seq);
                s.ts_offset = out_ts.wrapping_sub(ts);
                s.base_seq = seq;
                s.last_out_seq = out_seq;
                s.last_out_ts = out_ts;
                s.resync = false;
                Some((out_seq, out_ts))
            }
            Some(s) => {
                if seq_diff(seq, s.base_seq) < 0 {
                    return None;
                }
                // Keep the base within reach: only packets from before the switch point are
                // refused, and a long stream must never look older than its own start.
                if seq_diff(seq, s.base_seq) > BASE_WINDOW {
                    s.base_seq = seq.wrapping_sub(BASE_WINDOW as u16);
                }
                let out_seq = seq.wrapping_add(s.seq_offset);
                let out_ts = ts.wrapping_add(s.ts_offset);
                if seq_diff(out_seq, s.last_out_seq) > 0 {
                    s.last_out_seq = out_seq;
                    s.last_out_ts = out_ts;
                }
                Some((out_seq, out_ts))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmap_names_what_was_sent_under_the_current_mapping_only() {
        let mut m = Munger::new();
        assert_eq!(m.map(100, 1000, 3000), Some((100, 1000)));
        assert_eq!(m.map(101, 4000, 3000), Some((101, 4000)));
        assert_eq!(m.unmap(101), Some((101, 0)));
        assert_eq!(m.unmap(102), None, "not sent yet");
        m.switch();
        let (out, out_ts) = m.map(5000, 90_000, 3000).unwrap();
        assert_eq!(out, 102);
        assert_eq!(m.unmap(out), Some((5000, out_ts.wrapping_sub(90_000))));
        assert_eq!(m.unmap(101), None, "from before the switch");
    }

    #[test]
    fn passes_through_a_single_source() {
        let mut m = Munger::new();
        assert_eq!(m.map(100, 1000, 3000), Some((100, 1000)));
        assert_eq!(m.map(101, 4000, 3000), Some((101, 4000)));
        // Reordered but after the base: kept.
        assert_eq!(m.map(103, 7000, 3000), Some((103, 7000)));
        assert_eq!(m.map(102, 7000, 3000), Some((102, 7000)));
    }

    #[test]
    fn wraps_around_sequence_and_timestamp() {
        let mut m = Munger::new();
        assert_eq!(
            m.map(65534, u32::MAX - 100, 3000),
            Some((65534, u32::MAX - 100))
        );
        assert_eq!(m.map(65535, u32::MAX, 3000), Some((65535, u32::MAX)));
        assert_eq!(m.map(0, 2899, 3000), Some((0, 2899)));
        assert_eq!(m.map(1, 5899, 3000), Some((1, 5899)));
    }

    #[test]
    fn layer_switch_continues_the_stream() {
        let mut m = Munger::new();
        m.map(500, 90_000, 3000);
        m.map(501, 93_000, 3000);
        // Switch to another layer whose numbers are unrelated.
        m.switch();
        assert_eq!(m.map(20_000, 7_000_000, 3000), Some((502, 96_000)));
        assert_eq!(m.map(20_001, 7_003_000, 3000), Some((503, 99_000)));
        // A late packet of the new layer from before the switch point is dropped.
        assert_eq!(m.map(19_999, 6_997_000, 3000), None);
    }

    #[test]
    fn a_long_stream_keeps_flowing() {
        // More than 2^16 packets (about 22 minutes of audio), in order, with some reordering.
        let mut m = Munger::new();
        let mut seq = 40_000u16;
        for i in 0..200_000u32 {
            let ts = i.wrapping_mul(960);
            assert!(m.map(seq, ts, 960).is_some(), "packet {i} dropped");
            if i % 1000 == 999 {
                // A late packet from a little earlier is still forwarded.
                assert!(m.map(seq.wrapping_sub(3), ts, 960).is_some());
            }
            seq = seq.wrapping_add(1);
        }
    }

    #[test]
    fn layer_switch_across_wrap_around() {
        let mut m = Munger::new();
        m.map(65535, u32::MAX - 1000, 3000);
        m.switch();
        // Output wraps from 65535 to 0; the timestamp wraps too.
        assert_eq!(m.map(10, 50, 3000), Some((0, 1999)));
        assert_eq!(m.map(11, 3050, 3000), Some((1, 4999)));
        m.switch();
        assert_eq!(m.map(65535, 0, 3000), Some((2, 7999)));
        assert_eq!(m.map(0, 3000, 3000), Some((3, 10_999)));
    }
}
