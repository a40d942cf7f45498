//! The audio mix of a room with phones: µs of CPU per 20 ms frame per phone, for rooms of 3,
//! 10 and 50 participants of which 1, 10 or 50 are phones (G.722; the others browsers
//! sending Opus). Two members speak (a browser and a phone, a tone each); the others send
//! quiet noise, which is still decoded every tick. One tick decodes every member, mixes,
//! encodes each speaking phone's own N − 1 mix, one shared mix for the silent phones, and
//! each phone's voice in Opus for the browsers.
//! Run with `cargo bench --bench mixer`; it prints the per-phone figures at the end.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use media::mix::codec::{AudioCodec, Encoder, OpusSettings, FRAME, MAX_ENCODED};
use media::mix::Mixer;
use media::PeerId;

/// Packets of one member for `frames` ticks: a tone when it speaks, else quiet noise.
fn packets(codec: AudioCodec, speaks: bool, seed: u32, frames: usize) -> Vec<Vec<u8>> {
    let mut enc = Encoder::new(codec, OpusSettings::default()).unwrap();
    let mut out = vec![0u8; MAX_ENCODED];
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..frames)
        .map(|n| {
            let mut f = [0i16; FRAME];
            for (i, s) in f.iter_mut().enumerate() {
                *s = if speaks {
                    let t = (n * FRAME + i) as f64 / 16000.0;
                    (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                } else {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x % 41) as i16 - 20
                };
            }
            let len = enc.encode(&f, &mut out).unwrap();
            out[..len].to_vec()
        })
        .collect()
}

const FRAMES: usize = 50;

struct Room {
    mixer: Mixer,
    members: Vec<(PeerId, AudioCodec, Vec<Vec<u8>>)>,
    tick: usize,
}

impl Room {
    fn new(participants: usize, phones: usize) -> Room {
        let mut mixer = Mixer::new(OpusSettings::default());
        let mut members = Vec::new();
        for i in 0..participants {
            let id = PeerId(i as u64 + 1);
            let phone = i < phones;
            let codec = if phone {
                AudioCodec::G722
            } else {
                AudioCodec::Opus
            };
            if phone {
                mixer.add_phone(id, codec).unwrap();
            } else {
                mixer.add_publisher(id).unwrap();
            }
            // Speaking: the first phone and the first browser.
            let speaks = i == 0 || i == phones;
            members.push((id, codec, packets(codec, speaks, i as u32, FRAMES)));
        }
        Room {
            mixer,
            members,
            tick: 0,
        }
    }

    fn step(&mut self) {
        let n = self.tick;
        for (id, codec, p) in &self.members {
            let seq = n as u16;
            self.mixer.push(
                *id,
                seq,
                (n as u32).wrapping_mul(codec.ts_step()),
                &p[n % FRAMES],
            );
        }
        self.mixer.tick();
        let mut bytes = 0;
        for f in self.mixer.outputs() {
            bytes += f.to_phone.len() + f.feed.len();
        }
        std::hint::black_box(bytes);
        self.tick += 1;
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    let mut figures = Vec::new();
    for (participants, phones) in [(3, 1), (10, 1), (10, 10), (50, 1), (50, 10), (50, 50)] {
        let mut room = Room::new(participants, phones);
        for _ in 0..5 {
            room.step();
        }
        let mut per_tick = 0f64;
        g.bench_function(
            BenchmarkId::new("tick", format!("{participants}p_{phones}phones")),
            |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        room.step();
                    }
                    let e = t.elapsed();
                    per_tick = e.as_secs_f64() * 1e6 / iters as f64;
                    e
                })
            },
        );
        figures.push((participants, phones, per_tick));
    }
    g.finish();
    println!("\nparticipants phones  µs/tick  µs/tick/phone  share of a core");
    for (p, ph, t) in figures {
        println!(
            "{p:>12} {ph:>6} {t:>8.1} {:>14.1} {:>15.2}%",
            t / ph as f64,
            t / 20_000.0 * 100.0
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
