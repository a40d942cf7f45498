//! One member's audio on its way into the mix: packets are decoded as they arrive into a
//! FIFO of samples at the mix rate, and the mix takes one 20 ms frame from it per tick.
//!
//! Policy (a fixed-delay jitter buffer, by samples rather than packets, so any packet time
//! works — 10, 20, 30 ms phones alike):
//! * The FIFO first fills to [`TARGET`] (40 ms) before it plays: the jitter it absorbs.
//! * A packet older than the last one decoded is late: dropped (its time has been played).
//! * A gap in sequence numbers is concealed when the codec can (Opus PLC), up to
//!   [`MAX_CONCEALED`] frames; otherwise the gap shortens the FIFO.
//! * Running dry (the member stopped sending, or a long gap) plays what is left, then
//!   silence, and fills to [`TARGET`] again before playing.
//! * Above [`MAX_FILL`] (a sender whose clock runs fast, or a burst), the oldest samples are
//!   dropped down to the target: latency stays bounded.
//!
//! Nothing allocates after construction: the FIFO and the scratch are sized once.

use std::collections::VecDeque;

use super::codec::{AudioCodec, CodecError, Decoder, FRAME, MAX_PACKET_SAMPLES, RATE};

/// Samples buffered before playing (40 ms).
pub const TARGET: usize = 2 * FRAME;
/// Samples buffered at most (200 ms).
pub const MAX_FILL: usize = 10 * FRAME;
/// Lost frames concealed in one gap at most.
pub const MAX_CONCEALED: usize = 3;

/// What one tick took from an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// A whole frame of received (or concealed) audio.
    Audio,
    /// Nothing to play: the frame is silence.
    Silence,
}

pub struct Input {
    decoder: Decoder,
    clock: u32,
    fifo: VecDeque<i16>,
    scratch: Box<[i16; MAX_PACKET_SAMPLES]>,
    /// The sequence number and timestamp expected next.
    next: Option<(u16, u32)>,
    filling: bool,
    /// Counters: packets decoded, dropped late or undecodable, frames concealed.
    pub decoded: u64,
    pub late: u64,
    pub corrupt: u64,
    pub concealed: u64,
}

impl Input {
    pub fn new(codec: AudioCodec) -> Result<Input, CodecError> {
        Ok(Input {
            decoder: Decoder::new(codec)?,
            clock: codec.clock(),
            fifo: VecDeque::with_capacity(MAX_FILL + MAX_PACKET_SAMPLES * (MAX_CONCEALED + 1)),
            scratch: Box::new([0; MAX_PACKET_SAMPLES]),
            next: None,
            filling: true,
            decoded: 0,
            late: 0,
            corrupt: 0,
            concealed: 0,
        })
    }

    /// One RTP packet of the member's audio.
    pub fn push(&mut self, seq: u16, ts: u32, payload: &[u8]) {
        if let Some((next_seq, next_ts)) = self.next {
            let ahead = seq.wrapping_sub(next_seq) as i16;
            if ahead < 0 {
                self.late += 1;
                return;
            }
            if ahead > 0 {
                // Lost packets: conceal the time they covered (from the timestamps), at most
                // a few frames.
                let gap_ts = ts.wrapping_sub(next_ts);
                let gap = (u64::from(gap_ts) * u64::from(RATE) / u64::from(self.clock)) as usize;
                let gap = gap.min(MAX_CONCEALED * FRAME);
                let mut left = gap;
                while left >= FRAME {
                    let n = self.decoder.conceal(FRAME, &mut self.scratch[..]);
                    if n == 0 {
                        break;
                    }
                    self.concealed += 1;
                    self.fifo.extend(&self.scratch[..n]);
                    left -= FRAME;
                }
            }
        }
        match self.decoder.decode(payload, &mut self.scratch[..]) {
            Ok(n) => {
                self.decoded += 1;
                self.fifo.extend(&self.scratch[..n]);
                let step = (n as u64 * u64::from(self.clock) / u64::from(RATE)) as u32;
                self.next = Some((seq.wrapping_add(1), ts.wrapping_add(step)));
            }
            Err(_) => {
                self.corrupt += 1;
                self.next = Some((seq.wrapping_add(1), ts));
            }
        }
        if self.fifo.len() > MAX_FILL {
            let extra = self.fifo.len() - TARGET;
            self.fifo.drain(..extra);
        }
    }

    /// The next 20 ms of this member into `frame`.
    pub fn pull(&mut self, frame: &mut [i16; FRAME]) -> Pulled {
        if self.filling {
            if self.fifo.len() < TARGET {
                frame.fill(0);
                return Pulled::Silence;
            }
            self.filling = false;
        }
        let n = self.fifo.len().min(FRAME);
        for (o, s) in frame.iter_mut().zip(self.fifo.drain(..n)) {
            *o = s;
        }
        frame[n..].fill(0);
        if n < FRAME {
            self.filling = true;
            if n == 0 {
                return Pulled::Silence;
            }
        }
        Pulled::Audio
    }

    /// Samples waiting.
    pub fn buffered(&self) -> usize {
        self.fifo.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::tests::sine_frame;
    use super::super::codec::{Encoder, OpusSettings, MAX_ENCODED};
    use super::*;

    fn packets(codec: AudioCodec, n: usize) -> Vec<Vec<u8>> {
        let mut enc = Encoder::new(codec, OpusSettings::default()).unwrap();
        let mut out = vec![0u8; MAX_ENCODED];
        (0..n)
            .map(|i| {
                let len = enc.encode(&sine_frame(440.0, 8000.0, i), &mut out).unwrap();
                out[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn plays_after_two_frames_and_keeps_the_delay() {
        let mut input = Input::new(AudioCodec::Pcmu).unwrap();
        let p = packets(AudioCodec::Pcmu, 10);
        let mut frame = [0i16; FRAME];
        input.push(0, 0, &p[0]);
        assert_eq!(input.pull(&mut frame), Pulled::Silence, "still filling");
        input.push(1, 160, &p[1]);
        assert_eq!(input.pull(&mut frame), Pulled::Audio);
        for i in 2..10u16 {
            input.push(i, u32::from(i) * 160, &p[usize::from(i)]);
            assert_eq!(input.pull(&mut frame), Pulled::Audio);
            assert_eq!(input.buffered(), FRAME, "one frame kept in hand");
        }
    }

    #[test]
    fn late_packets_are_dropped_and_gaps_concealed_with_opus() {
        let mut input = Input::new(AudioCodec::Opus).unwrap();
        let p = packets(AudioCodec::Opus, 6);
        input.push(10, 9600, &p[0]);
        input.push(11, 10560, &p[1]);
        // 12 and 13 are lost: concealed from the timestamps.
        input.push(14, 13440, &p[4]);
        assert_eq!(input.concealed, 2);
        assert_eq!(input.buffered(), 5 * FRAME);
        input.push(12, 11520, &p[2]);
        assert_eq!(input.late, 1);
        assert_eq!(input.buffered(), 5 * FRAME);
    }

    #[test]
    fn running_dry_plays_silence_then_fills_again() {
        let mut input = Input::new(AudioCodec::G722).unwrap();
        let p = packets(AudioCodec::G722, 4);
        let mut frame = [0i16; FRAME];
        input.push(0, 0, &p[0]);
        input.push(1, 160, &p[1]);
        assert_eq!(input.pull(&mut frame), Pulled::Audio);
        assert_eq!(input.pull(&mut frame), Pulled::Audio);
        assert_eq!(input.pull(&mut frame), Pulled::Silence);
        assert!(frame.iter().all(|s| *s == 0));
        input.push(2, 320, &p[2]);
        assert_eq!(input.pull(&mut frame), Pulled::Silence, "filling again");
    }

    #[test]
    fn a_flood_is_cut_back_to_the_target_delay() {
        let mut input = Input::new(AudioCodec::Pcma).unwrap();
        let p = packets(AudioCodec::Pcma, 1);
        for i in 0..100u16 {
            input.push(i, u32::from(i) * 160, &p[0]);
            assert!(input.buffered() <= MAX_FILL);
        }
    }

    #[test]
    fn garbage_and_wild_numbers_do_not_panic() {
        let mut input = Input::new(AudioCodec::Opus).unwrap();
        let mut frame = [0i16; FRAME];
        for i in 0..200u32 {
            let seq = (i.wrapping_mul(7919)) as u16;
            let ts = i.wrapping_mul(2_654_435_761);
            let junk: Vec<u8> = (0..(i % 50)).map(|k| (k * 13 + i) as u8).collect();
            input.push(seq, ts, &junk);
            input.pull(&mut frame);
        }
    }
}
