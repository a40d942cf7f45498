//! The audio mix of one room with phones in it: every member's audio (browsers' Opus,
//! phones' Opus, G.722 or G.711) decoded to 16 kHz, summed per 20 ms tick, and for each
//! phone the sum without its own voice (an N − 1 mix), encoded in the phone's codec. Each
//! phone's own voice is also encoded in Opus once per tick: the feed the browsers subscribe
//! to, as to any publisher's audio.
//!
//! Sans-IO like the rest of the core: [`Mixer::push`] takes a member's RTP payload,
//! [`Mixer::tick`] (every [`TICK`]) mixes and encodes, [`Mixer::outputs`] gives what to send.
//!
//! The work is shared where the result is the same: a phone that is not speaking hears the
//! whole mix, so the silent phones of one codec share one encode of it
//! ([`Mixer::stats`]`.shared_encodes`). Browser members are decoded only while the room has a
//! phone (the core asks [`Mixer::has_phones`] before pushing). Nothing allocates per tick.

pub mod codec;
pub mod input;
pub mod transcode;

use std::time::Duration;

use crate::ids::PeerId;
use codec::{AudioCodec, CodecError, Encoder, OpusSettings, FRAME, MAX_ENCODED};
use input::{Input, Pulled};

/// The mix period.
pub const TICK: Duration = Duration::from_millis(20);
/// A frame whose loudest sample stays below this is not speech (about -54 dBFS): its
/// phone hears the shared whole mix.
pub const SPEAKING_PEAK: u16 = 64;

/// A phone's outputs of one tick.
pub struct PhoneFrame<'a> {
    pub phone: PeerId,
    pub codec: AudioCodec,
    /// The phone's mix, encoded in its codec.
    pub to_phone: &'a [u8],
    /// The phone's own voice in Opus for the browsers (empty: nothing heard this tick).
    pub feed: &'a [u8],
    /// How loud the phone was this tick, as RFC 6464 has it: -dBov, 0 loudest, 127 silence
    /// (the browsers' levels come in their packets; the phones' are measured here).
    pub level: u8,
}

/// Counters, for the bench and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MixStats {
    pub ticks: u64,
    /// Encodes made for one phone's own N − 1 mix.
    pub own_encodes: u64,
    /// Encodes of the whole mix, each shared by the silent phones of a codec.
    pub shared_encodes: u64,
    pub feed_encodes: u64,
}

struct Phone {
    codec: AudioCodec,
    encoder: Encoder,
    feed: Encoder,
    out: Box<[u8; MAX_ENCODED]>,
    out_len: usize,
    /// The frame came from the shared encode of its codec (then `out` is unused).
    shared: bool,
    feed_out: Box<[u8; MAX_ENCODED]>,
    feed_len: usize,
}

struct Member {
    id: PeerId,
    input: Input,
    frame: Box<[i16; FRAME]>,
    /// This tick's frame has audio in it, and whether it is speech.
    heard: bool,
    speaking: bool,
    /// Muted by the room (`videoroom-mute-participant`): left out of every mix, no feed.
    muted: bool,
    /// This tick's loudness, -dBov (phones only).
    level: u8,
    phone: Option<Box<Phone>>,
}

/// The whole-mix encode of one codec, shared by that codec's silent phones.
struct Shared {
    codec: AudioCodec,
    encoder: Encoder,
    out: Box<[u8; MAX_ENCODED]>,
    len: usize,
    /// Encoded this tick.
    fresh: bool,
}

pub struct Mixer {
    opus: OpusSettings,
    members: Vec<Member>,
    shared: Vec<Shared>,
    sum: Box<[i32; FRAME]>,
    mixed: Box<[i16; FRAME]>,
    stats: MixStats,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the mix is full")]
    Full,
}

/// Members of one mix at most (phones and browsers): a setting's ceiling, so that a room's
/// tick stays a bounded amount of work.
pub const MAX_MEMBERS: usize = 256;

impl Mixer {
    pub fn new(opus: OpusSettings) -> Mixer {
        Mixer {
            opus,
            members: Vec::new(),
            shared: Vec::new(),
            sum: Box::new([0; FRAME]),
            mixed: Box::new([0; FRAME]),
            stats: MixStats::default(),
        }
    }

    fn add(&mut self, id: PeerId, codec: AudioCodec, phone: bool) -> Result<(), MixError> {
        if self.members.iter().any(|m| m.id == id) {
            return Ok(());
        }
        if self.members.len() >= MAX_MEMBERS {
            return Err(MixError::Full);
        }
        let phone = if phone {
            if !self.shared.iter().any(|s| s.codec == codec) {
                self.shared.push(Shared {
                    codec,
                    encoder: Encoder::new(codec, self.opus)?,
                    out: Box::new([0; MAX_ENCODED]),
                    len: 0,
                    fresh: false,
                });
            }
            Some(Box::new(Phone {
                codec,
                encoder: Encoder::new(codec, self.opus)?,
                feed: Encoder::new(AudioCodec::Opus, self.opus)?,
                out: Box::new([0; MAX_ENCODED]),
                out_len: 0,
                shared: false,
                feed_out: Box::new([0; MAX_ENCODED]),
                feed_len: 0,
            }))
        } else {
            None
        };
        self.members.push(Member {
            id,
            input: Input::new(codec)?,
            frame: Box::new([0; FRAME]),
            heard: false,
            speaking: false,
            muted: false,
            level: SILENT_DBOV,
            phone,
        });
        Ok(())
    }

    /// A browser publisher's audio (Opus) joins the mix.
    pub fn add_publisher(&mut self, id: PeerId) -> Result<(), MixError> {
        self.add(id, AudioCodec::Opus, false)
    }

    /// A phone joins: its audio is mixed in, and it hears the others.
    pub fn add_phone(&mut self, id: PeerId, codec: AudioCodec) -> Result<(), MixError> {
        self.add(id, codec, true)
    }

    pub fn remove(&mut self, id: PeerId) {
        self.members.retain(|m| m.id != id);
        let codecs: Vec<AudioCodec> = self
            .members
            .iter()
            .filter_map(|m| m.phone.as_ref().map(|p| p.codec))
            .collect();
        self.shared.retain(|s| codecs.contains(&s.codec));
    }

    /// Mutes or unmutes member `id` in the mix (its packets are still taken and dropped).
    pub fn set_muted(&mut self, id: PeerId, muted: bool) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.muted = muted;
        }
    }

    pub fn contains(&self, id: PeerId) -> bool {
        self.members.iter().any(|m| m.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn has_phones(&self) -> bool {
        !self.shared.is_empty()
    }

    pub fn stats(&self) -> MixStats {
        self.stats
    }

    /// One RTP packet of member `id`'s audio.
    pub fn push(&mut self, id: PeerId, seq: u16, ts: u32, payload: &[u8]) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.input.push(seq, ts, payload);
        }
    }

    /// Mixes and encodes one 20 ms frame; [`Mixer::outputs`] then gives what to send.
    pub fn tick(&mut self) {
        self.stats.ticks += 1;
        self.sum.fill(0);
        for m in &mut self.members {
            m.heard = m.input.pull(&mut m.frame) == Pulled::Audio && !m.muted;
            m.speaking = m.heard && m.frame.iter().any(|s| s.unsigned_abs() >= SPEAKING_PEAK);
            if m.phone.is_some() {
                m.level = if m.heard { dbov(&m.frame) } else { SILENT_DBOV };
            }
            if m.heard {
                for (acc, s) in self.sum.iter_mut().zip(m.frame.iter()) {
                    *acc += i32::from(*s);
                }
            }
        }
        for s in &mut self.shared {
            s.fresh = false;
        }
        let Mixer {
            members,
            shared,
            sum,
            mixed,
            stats,
            ..
        } = self;
        for m in members.iter_mut() {
            let Some(phone) = m.phone.as_mut() else {
                continue;
            };
            phone.feed_len = 0;
            if m.heard {
                phone.feed_len = phone
                    .feed
                    .encode(&m.frame, &mut phone.feed_out[..])
                    .unwrap_or(0);
                stats.feed_encodes += 1;
            }
            if m.speaking {
                for ((o, acc), own) in mixed.iter_mut().zip(sum.iter()).zip(m.frame.iter()) {
                    *o = clamp(*acc - i32::from(*own));
                }
                phone.out_len = phone.encoder.encode(mixed, &mut phone.out[..]).unwrap_or(0);
                phone.shared = false;
                stats.own_encodes += 1;
            } else {
                phone.shared = true;
                if let Some(s) = shared.iter_mut().find(|s| s.codec == phone.codec) {
                    if !s.fresh {
                        for (o, acc) in mixed.iter_mut().zip(sum.iter()) {
                            *o = clamp(*acc);
                        }
                        s.len = s.encoder.encode(mixed, &mut s.out[..]).unwrap_or(0);
                        s.fresh = true;
                        stats.shared_encodes += 1;
                    }
                }
            }
        }
    }

    /// Each phone's frames of the last tick.
    pub fn outputs(&self) -> impl Iterator<Item = PhoneFrame<'_>> {
        self.members.iter().filter_map(|m| {
            let p = m.phone.as_ref()?;
            let to_phone = if p.shared {
                self.shared
                    .iter()
                    .find(|s| s.codec == p.codec)
                    .map_or(&[][..], |s| &s.out[..s.len])
            } else {
                &p.out[..p.out_len]
            };
            Some(PhoneFrame {
                phone: m.id,
                codec: p.codec,
                to_phone,
                feed: &p.feed_out[..p.feed_len],
                level: m.level,
            })
        })
    }
}

/// RFC 6464's silence: -127 dBov.
const SILENT_DBOV: u8 = 127;

/// The level of a frame in -dBov (RFC 6464): its RMS against full scale.
fn dbov(frame: &[i16; FRAME]) -> u8 {
    let energy: i64 = frame.iter().map(|s| i64::from(*s) * i64::from(*s)).sum();
    let rms = (energy as f64 / FRAME as f64).sqrt();
    if rms < 1.0 {
        return SILENT_DBOV;
    }
    (-20.0 * (rms / 32768.0).log10()).round().clamp(0.0, 127.0) as u8
}

fn clamp(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::codec::tests::{sine_frame, tone};
    use super::codec::{Decoder, MAX_PACKET_SAMPLES};
    use super::*;

    /// Feeds member tones for `ticks` frames; returns what each phone decoded.
    struct Room {
        mixer: Mixer,
        sources: Vec<(PeerId, AudioCodec, f64, Encoder, u16)>,
        heard: Vec<(PeerId, Decoder, Vec<i16>)>,
    }

    impl Room {
        fn new() -> Room {
            Room {
                mixer: Mixer::new(OpusSettings::default()),
                sources: Vec::new(),
                heard: Vec::new(),
            }
        }

        fn browser(&mut self, n: u64, hz: f64) {
            let id = PeerId(n);
            self.mixer.add_publisher(id).unwrap();
            let enc = Encoder::new(AudioCodec::Opus, OpusSettings::default()).unwrap();
            self.sources.push((id, AudioCodec::Opus, hz, enc, 0));
        }

        fn phone(&mut self, n: u64, codec: AudioCodec, hz: f64) {
            let id = PeerId(n);
            self.mixer.add_phone(id, codec).unwrap();
            let enc = Encoder::new(codec, OpusSettings::default()).unwrap();
            self.sources.push((id, codec, hz, enc, 0));
            self.heard
                .push((id, Decoder::new(codec).unwrap(), Vec::new()));
        }

        fn run(&mut self, ticks: usize) {
            let mut out = vec![0u8; MAX_ENCODED];
            let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
            for t in 0..ticks {
                for (id, codec, hz, enc, seq) in &mut self.sources {
                    if *hz == 0.0 {
                        continue;
                    }
                    let len = enc.encode(&sine_frame(*hz, 6000.0, t), &mut out).unwrap();
                    let ts = u32::from(*seq) * codec.ts_step();
                    self.mixer.push(*id, *seq, ts, &out[..len]);
                    *seq = seq.wrapping_add(1);
                }
                self.mixer.tick();
                for f in self.mixer.outputs() {
                    let (_, dec, all) = self.heard.iter_mut().find(|h| h.0 == f.phone).unwrap();
                    if !f.to_phone.is_empty() {
                        let n = dec.decode(f.to_phone, &mut pcm).unwrap();
                        all.extend_from_slice(&pcm[..n]);
                    }
                }
            }
        }

        fn heard_by(&self, n: u64) -> &[i16] {
            let all = &self.heard.iter().find(|h| h.0 == PeerId(n)).unwrap().2;
            &all[all.len() - 16000..]
        }
    }

    #[test]
    fn a_phone_hears_both_browsers_and_not_itself() {
        let mut room = Room::new();
        room.browser(1, 440.0);
        room.browser(2, 880.0);
        room.phone(3, AudioCodec::G722, 1500.0);
        room.run(100);
        let x = room.heard_by(3);
        let (a, b, own) = (tone(x, 440.0), tone(x, 880.0), tone(x, 1500.0));
        assert!(a > 0.03 && b > 0.03, "440 at {a}, 880 at {b}");
        assert!(own < a / 20.0, "its own 1500 Hz at {own}");
    }

    #[test]
    fn a_g722_phone_and_a_pcmu_phone_hear_each_other_and_the_browser() {
        let mut room = Room::new();
        room.browser(1, 440.0);
        room.phone(2, AudioCodec::G722, 1000.0);
        room.phone(3, AudioCodec::Pcmu, 1500.0);
        room.run(100);
        let g722 = room.heard_by(2);
        assert!(tone(g722, 440.0) > 0.03 && tone(g722, 1500.0) > 0.03);
        assert!(tone(g722, 1000.0) < tone(g722, 1500.0) / 20.0);
        let pcmu = room.heard_by(3);
        assert!(tone(pcmu, 440.0) > 0.03 && tone(pcmu, 1000.0) > 0.03);
        assert!(tone(pcmu, 1500.0) < tone(pcmu, 1000.0) / 20.0);
    }

    #[test]
    fn silent_phones_of_one_codec_share_one_encode() {
        let mut room = Room::new();
        room.browser(1, 440.0);
        for n in 2..7 {
            room.phone(n, AudioCodec::Pcma, 0.0);
        }
        room.run(50);
        let s = room.mixer.stats();
        assert_eq!(s.own_encodes, 0);
        assert_eq!(s.shared_encodes, 50, "one encode per tick for five phones");
        for n in 2..7 {
            assert!(tone(room.heard_by(n), 440.0) > 0.03);
        }
    }

    #[test]
    fn the_feed_carries_the_phones_voice_in_opus() {
        let mut room = Room::new();
        room.phone(1, AudioCodec::Pcmu, 700.0);
        let mut dec = Decoder::new(AudioCodec::Opus).unwrap();
        let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
        let mut all = Vec::new();
        let mut out = vec![0u8; MAX_ENCODED];
        let mut enc = Encoder::new(AudioCodec::Pcmu, OpusSettings::default()).unwrap();
        for t in 0..60u16 {
            let len = enc
                .encode(&sine_frame(700.0, 6000.0, usize::from(t)), &mut out)
                .unwrap();
            room.mixer
                .push(PeerId(1), t, u32::from(t) * 160, &out[..len]);
            room.mixer.tick();
            for f in room.mixer.outputs() {
                if !f.feed.is_empty() {
                    let n = dec.decode(f.feed, &mut pcm).unwrap();
                    all.extend_from_slice(&pcm[..n]);
                }
            }
        }
        assert!(all.len() >= 50 * FRAME);
        assert!(tone(&all[all.len() - 8000..], 700.0) > 0.03);
    }

    #[test]
    fn a_muted_phone_is_left_out_of_the_mix_and_sends_no_feed() {
        let mut room = Room::new();
        room.phone(1, AudioCodec::Pcmu, 1000.0);
        room.phone(2, AudioCodec::Pcmu, 1500.0);
        room.mixer.set_muted(PeerId(1), true);
        room.run(60);
        let heard = room.heard_by(2);
        assert!(tone(heard, 1000.0) < 0.001, "the muted phone is heard");
        assert!(room
            .mixer
            .outputs()
            .all(|f| f.phone != PeerId(1) || f.feed.is_empty()));
    }

    #[test]
    fn a_phones_level_is_its_frames_rms_in_dbov() {
        assert_eq!(dbov(&[0; FRAME]), 127);
        // A full-scale square wave is 0 dBov; a tenth of it -20.
        assert_eq!(dbov(&[i16::MAX; FRAME]), 0);
        assert_eq!(dbov(&[3277; FRAME]), 20);
        let mut room = Room::new();
        room.phone(1, AudioCodec::Pcmu, 1000.0);
        room.run(10);
        let level = room.mixer.outputs().next().unwrap().level;
        // A 6000-amplitude sine is about -18 dBov, through G.711.
        assert!((15..=22).contains(&level), "{level}");
    }

    #[test]
    fn members_come_and_go() {
        let mut m = Mixer::new(OpusSettings::default());
        m.add_phone(PeerId(1), AudioCodec::Pcmu).unwrap();
        m.add_publisher(PeerId(2)).unwrap();
        assert!(m.has_phones());
        m.remove(PeerId(1));
        assert!(!m.has_phones());
        assert!(m.contains(PeerId(2)));
        m.tick();
        assert_eq!(m.outputs().count(), 0);
        m.remove(PeerId(2));
        assert!(m.is_empty());
    }
}
