//! Transcoding of a 1:1 call whose sides share no codec (a browser offering Opus only, a
//! G.722-only or narrowband phone): each direction decodes what comes in to the mix rate and
//! encodes 20 ms frames of it in the other side's codec, through the same codecs as the
//! rooms' mix ([`super::codec`]).
//!
//! Packets are transcoded as they come (no jitter buffer: each side has its own, and the
//! gateway adds none); a FIFO carries what does not fill a whole frame yet (a phone sending
//! 30 ms packets toward 20 ms Opus frames). Each direction numbers its output as one
//! continuous stream. Nothing allocates after construction.

use std::collections::VecDeque;

use super::codec::{
    AudioCodec, CodecError, Decoder, Encoder, OpusSettings, FRAME, MAX_ENCODED, MAX_PACKET_SAMPLES,
};

/// Samples one direction holds at most (a burst beyond is dropped: latency stays bounded).
const MAX_FIFO: usize = 10 * FRAME;

/// One direction: what comes in, in `from`; what goes out, in `to`.
pub struct Direction {
    dec: Decoder,
    enc: Encoder,
    fifo: VecDeque<i16>,
    scratch: Box<[i16; MAX_PACKET_SAMPLES]>,
    frame: Box<[i16; FRAME]>,
    out: Box<[u8; MAX_ENCODED]>,
    seq: u16,
    ts: u32,
    step: u32,
    /// Packets that did not decode.
    pub corrupt: u64,
}

impl Direction {
    fn new(
        from: AudioCodec,
        to: AudioCodec,
        opus: OpusSettings,
        seq: u16,
        ts: u32,
    ) -> Result<Direction, CodecError> {
        Ok(Direction {
            dec: Decoder::new(from)?,
            enc: Encoder::new(to, opus)?,
            fifo: VecDeque::with_capacity(MAX_FIFO + MAX_PACKET_SAMPLES),
            scratch: Box::new([0; MAX_PACKET_SAMPLES]),
            frame: Box::new([0; FRAME]),
            out: Box::new([0; MAX_ENCODED]),
            seq,
            ts,
            step: to.ts_step(),
            corrupt: 0,
        })
    }

    /// One packet's payload in the incoming codec.
    pub fn push(&mut self, payload: &[u8]) {
        match self.dec.decode(payload, &mut self.scratch[..]) {
            Ok(n) => self.fifo.extend(&self.scratch[..n]),
            Err(_) => self.corrupt += 1,
        }
        if self.fifo.len() > MAX_FIFO {
            let extra = self.fifo.len() - MAX_FIFO;
            self.fifo.drain(..extra);
        }
    }

    /// The next whole frame in the outgoing codec: (sequence number, timestamp, payload).
    pub fn next_frame(&mut self) -> Option<(u16, u32, &[u8])> {
        while self.fifo.len() >= FRAME {
            for (o, s) in self.frame.iter_mut().zip(self.fifo.drain(..FRAME)) {
                *o = s;
            }
            let (seq, ts) = (self.seq, self.ts);
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(self.step);
            if let Ok(len) = self.enc.encode(&self.frame, &mut self.out[..]) {
                return Some((seq, ts, &self.out[..len]));
            }
        }
        None
    }
}

/// Both directions of a transcoded call.
pub struct Transcoder {
    /// The browser's codec (Opus) to the phone's.
    pub to_sip: Direction,
    /// The phone's codec to the browser's.
    pub to_browser: Direction,
    pub browser: AudioCodec,
    pub sip: AudioCodec,
    /// The browser's payload type of its codec.
    pub browser_pt: u8,
}

impl Transcoder {
    /// `seeds`: random starting sequence numbers and timestamps of both output streams.
    pub fn new(
        browser: (AudioCodec, u8),
        sip: AudioCodec,
        opus: OpusSettings,
        seeds: [u32; 4],
    ) -> Result<Transcoder, CodecError> {
        let (browser, browser_pt) = browser;
        Ok(Transcoder {
            to_sip: Direction::new(browser, sip, opus, seeds[0] as u16, seeds[1])?,
            to_browser: Direction::new(sip, browser, opus, seeds[2] as u16, seeds[3])?,
            browser,
            sip,
            browser_pt,
        })
    }
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transcoder({:?} <-> {:?})", self.browser, self.sip)
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::tests::{sine_frame, tone};
    use super::*;

    #[test]
    fn opus_to_g722_and_back_keeps_a_tone_and_numbers_the_streams() {
        let mut t = Transcoder::new(
            (AudioCodec::Opus, 111),
            AudioCodec::G722,
            OpusSettings::default(),
            [10, 1000, 20, 2000],
        )
        .unwrap();
        let mut opus = Encoder::new(AudioCodec::Opus, OpusSettings::default()).unwrap();
        let mut back = Decoder::new(AudioCodec::Opus).unwrap();
        let mut out = vec![0u8; MAX_ENCODED];
        let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
        let mut heard = Vec::new();
        let mut seqs = Vec::new();
        for n in 0..50 {
            let len = opus
                .encode(&sine_frame(440.0, 8000.0, n), &mut out)
                .unwrap();
            t.to_sip.push(&out[..len]);
            while let Some((seq, ts, g722)) = t.to_sip.next_frame() {
                assert_eq!(g722.len(), 160, "20 ms of G.722");
                seqs.push((seq, ts));
                let g722 = g722.to_vec();
                t.to_browser.push(&g722);
                while let Some((_, _, o)) = t.to_browser.next_frame() {
                    let k = back.decode(o, &mut pcm).unwrap();
                    heard.extend_from_slice(&pcm[..k]);
                }
            }
        }
        assert_eq!(seqs.len(), 50);
        assert_eq!(seqs[0], (10, 1000));
        assert_eq!(seqs[1], (11, 1160), "G.722's 8 kHz RTP clock");
        assert!(tone(&heard[heard.len() - 8000..], 440.0) > 0.05);
    }

    #[test]
    fn thirty_ms_packets_become_twenty_ms_frames() {
        let mut t = Transcoder::new(
            (AudioCodec::Opus, 111),
            AudioCodec::Pcmu,
            OpusSettings::default(),
            [0; 4],
        )
        .unwrap();
        // 30 ms of PCMU (240 bytes) per packet: three packets are 90 ms, four whole frames.
        let payload = vec![0xffu8; 240];
        let mut frames = 0;
        for _ in 0..3 {
            t.to_browser.push(&payload);
            while t.to_browser.next_frame().is_some() {
                frames += 1;
            }
        }
        assert_eq!(frames, 4);
    }
}
