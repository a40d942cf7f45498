//! The audio codecs of the mixer, behind one interface at the mix rate: every decoder gives
//! 16 kHz mono samples and every encoder takes a 20 ms frame of them ([`FRAME`]).
//!
//! Why 16 kHz: the phones that meet a room are narrowband (G.711) or wideband (G.722, or
//! Opus as a desk phone sends it); mixing fullband would quadruple the work of every decode,
//! resample and encode for bandwidth no phone plays. Opus encodes and decodes at 16 kHz
//! natively (its RTP clock stays 48 kHz); G.711 is resampled 8 <-> 16 kHz.
//!
//! Opus is `opus-rs`, a pure-Rust port of libopus 1.6 (measured beside Debian's libopus
//! 1.3.1 on this machine: 20 ms at 16 kHz, complexity 5: encode 110 µs vs 107 µs, decode
//! 12 µs vs 13 µs); G.722 and G.711 are `audio-codec`'s. Nothing here allocates after
//! construction.

use audio_codec::g722::{G722Decoder, G722Encoder};
use audio_codec::pcma::{PcmaDecoder, PcmaEncoder};
use audio_codec::pcmu::{PcmuDecoder, PcmuEncoder};
use audio_codec::resampler::BoxedResampler;
use audio_codec::{Decoder as _, Encoder as _};
use opus_rs::{Application, OpusDecoder, OpusEncoder};

/// The mix rate (samples per second).
pub const RATE: u32 = 16_000;
/// Samples in one 20 ms frame at the mix rate.
pub const FRAME: usize = 320;
/// The most samples one packet may decode to (120 ms, Opus's longest packet).
pub const MAX_PACKET_SAMPLES: usize = 6 * FRAME;
/// The largest encoded frame (an Opus packet of 20 ms stays far below).
pub const MAX_ENCODED: usize = 1275;

/// The codecs a phone's audio may use, in the order the gateway prefers them (wideband
/// first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    Opus,
    G722,
    Pcmu,
    Pcma,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("codec setup failed: {0}")]
    Setup(&'static str),
    #[error("undecodable packet")]
    Corrupt,
}

impl AudioCodec {
    /// Preference order for a phone's leg.
    pub const PREFERENCE: [AudioCodec; 4] = [
        AudioCodec::Opus,
        AudioCodec::G722,
        AudioCodec::Pcmu,
        AudioCodec::Pcma,
    ];

    /// The codec of an rtpmap (lower-case encoding name and clock rate).
    pub fn from_rtpmap(name: &str, clock: u32) -> Option<AudioCodec> {
        match (name, clock) {
            ("opus", 48000) => Some(AudioCodec::Opus),
            ("g722", 8000) => Some(AudioCodec::G722),
            ("pcmu", 8000) => Some(AudioCodec::Pcmu),
            ("pcma", 8000) => Some(AudioCodec::Pcma),
            _ => None,
        }
    }

    /// RTP timestamp units per 20 ms (G.722's RTP clock is 8 kHz though it samples at 16,
    /// RFC 3551 §4.5.2).
    pub fn ts_step(self) -> u32 {
        match self {
            AudioCodec::Opus => 960,
            _ => 160,
        }
    }

    /// RTP clock rate.
    pub fn clock(self) -> u32 {
        match self {
            AudioCodec::Opus => 48000,
            _ => 8000,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Opus => "opus",
            AudioCodec::G722 => "G722",
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }
}

fn resampler(from: usize, to: usize) -> Result<Box<BoxedResampler>, CodecError> {
    BoxedResampler::new(from, to)
        .map(Box::new)
        .map_err(|_| CodecError::Setup("resampler"))
}

enum Dec {
    Opus(Box<OpusDecoder>, Box<[f32; MAX_PACKET_SAMPLES]>),
    G722(Box<G722Decoder>),
    /// PCMU or PCMA at 8 kHz, resampled to the mix rate.
    G711(Box<dyn audio_codec::Decoder>, Box<BoxedResampler>),
}

/// One stream's decoder, to the mix rate.
pub struct Decoder {
    dec: Dec,
    /// G.711's 8 kHz samples before resampling.
    narrow: Box<[i16; MAX_PACKET_SAMPLES / 2]>,
}

impl Decoder {
    pub fn new(codec: AudioCodec) -> Result<Decoder, CodecError> {
        let dec = match codec {
            AudioCodec::Opus => Dec::Opus(
                Box::new(OpusDecoder::new(RATE as i32, 1).map_err(CodecError::Setup)?),
                Box::new([0.0; MAX_PACKET_SAMPLES]),
            ),
            AudioCodec::G722 => Dec::G722(Box::default()),
            AudioCodec::Pcmu => Dec::G711(Box::new(PcmuDecoder::new()), resampler(8000, 16000)?),
            AudioCodec::Pcma => Dec::G711(Box::new(PcmaDecoder::new()), resampler(8000, 16000)?),
        };
        Ok(Decoder {
            dec,
            narrow: Box::new([0; MAX_PACKET_SAMPLES / 2]),
        })
    }

    /// Decodes one packet into `out` (at least [`MAX_PACKET_SAMPLES`] long); returns the
    /// samples written.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        let out = &mut out[..MAX_PACKET_SAMPLES];
        // G.722 and G.711 take a byte per sample or two: at most what `out` holds.
        let bounded = &payload[..payload.len().min(MAX_PACKET_SAMPLES / 2)];
        match &mut self.dec {
            Dec::Opus(d, pcm) => {
                if payload.is_empty() {
                    return Err(CodecError::Corrupt);
                }
                let n = d
                    .decode(payload, MAX_PACKET_SAMPLES, &mut pcm[..])
                    .map_err(|_| CodecError::Corrupt)?;
                Ok(to_i16(&pcm[..n.min(MAX_PACKET_SAMPLES)], out))
            }
            Dec::G722(d) => d.decode_into(bounded, out).map_err(|_| CodecError::Corrupt),
            Dec::G711(d, up) => {
                let n = d
                    .decode_into(bounded, &mut self.narrow[..])
                    .map_err(|_| CodecError::Corrupt)?;
                up.resample_into(&self.narrow[..n], out)
                    .map_err(|_| CodecError::Corrupt)
            }
        }
    }

    /// Conceals `samples` lost samples (Opus's packet-loss concealment) into `out`; returns
    /// the samples written (0: the codec has no concealment, the gap stays a gap).
    pub fn conceal(&mut self, samples: usize, out: &mut [i16]) -> usize {
        let samples = samples.min(MAX_PACKET_SAMPLES).min(out.len());
        match &mut self.dec {
            Dec::Opus(d, pcm) if samples > 0 => match d.decode(&[], samples, &mut pcm[..]) {
                Ok(n) => to_i16(&pcm[..n.min(samples)], out),
                Err(_) => 0,
            },
            _ => 0,
        }
    }
}

fn to_i16(pcm: &[f32], out: &mut [i16]) -> usize {
    for (o, s) in out.iter_mut().zip(pcm) {
        *o = (s * 32768.0).clamp(-32768.0, 32767.0) as i16;
    }
    pcm.len().min(out.len())
}

enum Enc {
    Opus(Box<OpusEncoder>),
    G722(Box<G722Encoder>),
    /// PCMU or PCMA, from the mix rate resampled to 8 kHz.
    G711(Box<dyn audio_codec::Encoder>, Box<BoxedResampler>),
}

/// Opus settings of the mixer's encoders.
#[derive(Debug, Clone, Copy)]
pub struct OpusSettings {
    /// 0-10: CPU for quality (libopus's default is 10; 5 halves the cost for speech).
    pub complexity: i32,
    pub bitrate: i32,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings {
            complexity: 5,
            bitrate: 24_000,
        }
    }
}

/// One stream's encoder, from the mix rate.
pub struct Encoder {
    enc: Enc,
    narrow: Box<[i16; FRAME]>,
}

impl Encoder {
    pub fn new(codec: AudioCodec, opus: OpusSettings) -> Result<Encoder, CodecError> {
        let enc = match codec {
            AudioCodec::Opus => {
                let mut e = OpusEncoder::new(RATE as i32, 1, Application::Voip)
                    .map_err(CodecError::Setup)?;
                e.complexity = opus.complexity.clamp(0, 10);
                e.bitrate_bps = opus.bitrate.clamp(6_000, 128_000);
                Enc::Opus(Box::new(e))
            }
            AudioCodec::G722 => Enc::G722(Box::default()),
            AudioCodec::Pcmu => Enc::G711(Box::new(PcmuEncoder::new()), resampler(16000, 8000)?),
            AudioCodec::Pcma => Enc::G711(Box::new(PcmaEncoder::new()), resampler(16000, 8000)?),
        };
        Ok(Encoder {
            enc,
            narrow: Box::new([0; FRAME]),
        })
    }

    /// Encodes one 20 ms frame into `out` (at least [`MAX_ENCODED`] long); returns its
    /// length.
    pub fn encode(&mut self, frame: &[i16; FRAME], out: &mut [u8]) -> Result<usize, CodecError> {
        match &mut self.enc {
            Enc::Opus(e) => e
                .encode_i16(frame, FRAME, out)
                .map_err(|_| CodecError::Corrupt),
            Enc::G722(e) => e.encode_into(frame, out).map_err(|_| CodecError::Corrupt),
            Enc::G711(e, down) => {
                let n = down
                    .resample_into(frame, &mut self.narrow[..])
                    .map_err(|_| CodecError::Corrupt)?;
                e.encode_into(&self.narrow[..n], out)
                    .map_err(|_| CodecError::Corrupt)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 20 ms frame `n` of a sine of `hz` at amplitude `amp`.
    pub fn sine_frame(hz: f64, amp: f64, n: usize) -> [i16; FRAME] {
        let mut f = [0i16; FRAME];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (n * FRAME + i) as f64 / f64::from(RATE);
            *s = (amp * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
        }
        f
    }

    /// The magnitude of `hz` in `x` (Goertzel), relative to full scale.
    pub fn tone(x: &[i16], hz: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * hz / f64::from(RATE);
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0f64, 0f64);
        for &v in x {
            let s = f64::from(v) / 32768.0 + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - c * s1 * s2).sqrt() / x.len() as f64
    }

    fn round_trip(codec: AudioCodec) -> Vec<i16> {
        let mut enc = Encoder::new(codec, OpusSettings::default()).unwrap();
        let mut dec = Decoder::new(codec).unwrap();
        let mut out = vec![0u8; MAX_ENCODED];
        let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
        let mut all = Vec::new();
        for n in 0..50 {
            let len = enc.encode(&sine_frame(440.0, 8000.0, n), &mut out).unwrap();
            assert!(len > 0 && len < MAX_ENCODED, "{codec:?}: {len} bytes");
            let k = dec.decode(&out[..len], &mut pcm).unwrap();
            assert_eq!(k, FRAME, "{codec:?} decodes 20 ms to 20 ms");
            all.extend_from_slice(&pcm[..k]);
        }
        all
    }

    #[test]
    fn every_codec_keeps_a_tone_through_encode_and_decode() {
        for codec in AudioCodec::PREFERENCE {
            let pcm = round_trip(codec);
            let tail = &pcm[pcm.len() - 8000..];
            let (a, b) = (tone(tail, 440.0), tone(tail, 1000.0));
            assert!(a > 0.05, "{codec:?}: 440 Hz at {a}");
            assert!(b < a / 20.0, "{codec:?}: 1000 Hz at {b} beside 440 at {a}");
        }
    }

    #[test]
    fn garbage_is_an_error_or_noise_never_a_panic() {
        let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
        for codec in AudioCodec::PREFERENCE {
            let mut dec = Decoder::new(codec).unwrap();
            for len in [0usize, 1, 2, 3, 7, 160, 1000, 5000] {
                let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
                let _ = dec.decode(&junk, &mut pcm);
            }
            let _ = dec.conceal(FRAME, &mut pcm);
        }
    }

    #[test]
    fn opus_conceals_a_lost_frame_and_g711_does_not() {
        let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
        let mut enc = Encoder::new(AudioCodec::Opus, OpusSettings::default()).unwrap();
        let mut dec = Decoder::new(AudioCodec::Opus).unwrap();
        let mut out = vec![0u8; MAX_ENCODED];
        for n in 0..10 {
            let len = enc.encode(&sine_frame(440.0, 8000.0, n), &mut out).unwrap();
            dec.decode(&out[..len], &mut pcm).unwrap();
        }
        assert_eq!(dec.conceal(FRAME, &mut pcm), FRAME);
        assert!(pcm[..FRAME].iter().any(|s| s.unsigned_abs() > 100));
        let mut g711 = Decoder::new(AudioCodec::Pcmu).unwrap();
        assert_eq!(g711.conceal(FRAME, &mut pcm), 0);
    }

    #[test]
    fn rtpmap_names_map_to_codecs() {
        assert_eq!(
            AudioCodec::from_rtpmap("opus", 48000),
            Some(AudioCodec::Opus)
        );
        assert_eq!(
            AudioCodec::from_rtpmap("g722", 8000),
            Some(AudioCodec::G722)
        );
        assert_eq!(
            AudioCodec::from_rtpmap("pcma", 8000),
            Some(AudioCodec::Pcma)
        );
        assert_eq!(AudioCodec::from_rtpmap("pcmu", 16000), None);
        assert_eq!(AudioCodec::G722.ts_step(), 160);
        assert_eq!(AudioCodec::Opus.ts_step(), 960);
    }
}
