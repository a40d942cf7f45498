//! Simulcast layers of a publisher's video, and the choice of one layer per subscriber.
//!
//! A layer is one SSRC (with its rid when the browser simulcasts). Its bitrate is measured
//! over one-second windows. A subscriber gets the best layer under what it asked for
//! (`videoroom-session-update` `bitrate`), moved down on congestion and tried one step up
//! when its browser's estimate (REMB) leaves room: see [`Adaptation`].

use std::time::{Duration, Instant};

/// How often layer bitrates are measured and targets re-chosen.
pub const LAYER_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Layer {
    pub ssrc: u32,
    pub rid: Option<String>,
    /// Bytes received in the current window.
    bytes: u64,
    window_start: Instant,
    /// Bits per second over the last complete window (0: not measured or not sending).
    pub bitrate: u64,
    /// When a keyframe was last requested for this layer.
    pub last_keyframe_request: Option<Instant>,
    /// A keyframe was requested and none has come since.
    pub awaiting_keyframe: bool,
}

impl Layer {
    pub fn new(ssrc: u32, rid: Option<String>, now: Instant) -> Self {
        Layer {
            ssrc,
            rid,
            bytes: 0,
            window_start: now,
            bitrate: 0,
            last_keyframe_request: None,
            awaiting_keyframe: false,
        }
    }

    pub fn count(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }

    /// Closes the window if it is over; true when the bitrate was updated.
    pub fn tick(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < LAYER_WINDOW {
            return false;
        }
        self.bitrate = (self.bytes * 8 * 1000) / (elapsed.as_millis().max(1) as u64);
        self.bytes = 0;
        self.window_start = now;
        true
    }
}

/// The layer a subscriber should get: the highest bitrate not above `limit` (bits/s), else
/// the lowest; layers measured at 0 are skipped while any other is sending. With no
/// measurement at all, the first layer.
pub fn choose(layers: &[Layer], limit: Option<u64>) -> Option<u32> {
    let sending: Vec<&Layer> = layers.iter().filter(|l| l.bitrate > 0).collect();
    if sending.is_empty() {
        return layers.first().map(|l| l.ssrc);
    }
    let lowest = sending.iter().min_by_key(|l| l.bitrate)?;
    let best = match limit {
        None => sending.iter().max_by_key(|l| l.bitrate),
        Some(limit) => sending
            .iter()
            .filter(|l| l.bitrate <= limit)
            .max_by_key(|l| l.bitrate),
    };
    Some(best.unwrap_or(lowest).ssrc)
}

/// REMB is not judged for this long after a switch (the browser's estimate follows the
/// incoming rate, which the switch itself changed).
const SETTLE: Duration = Duration::from_secs(2);
/// An estimate this much above the current layer's bitrate is room for the next layer up...
const HEADROOM: f64 = 1.2;
/// ...once it has lasted this long.
const HEADROOM_FOR: Duration = Duration::from_secs(2);
/// An estimate falling below this share of its peak since the last switch is congestion
/// (the browser's rate control decreases multiplicatively when it detects overuse).
const CONGESTION: f64 = 0.85;
/// After congestion, no step up for this long, doubling up to the maximum; reset after
/// [`STABLE`] without congestion.
const BACKOFF_MIN: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(40);
const STABLE: Duration = Duration::from_secs(30);

/// How one subscriber's layer follows what it asked for and what its browser estimates
/// (REMB). The request is a hard cap. The estimate is read as receive-side estimates behave:
/// it stays within about 1.5 times what the browser receives, so a low estimate alone is no
/// reason to step down (it says nothing of the layers not sent), and a step up has to be
/// tried: after [`HEADROOM_FOR`] with the estimate [`HEADROOM`] above the current layer, one
/// layer up. A drop of the estimate below [`CONGESTION`] of its peak is congestion: down to
/// what the estimate covers, and no step up for a backoff that doubles while it repeats.
#[derive(Debug, Clone)]
pub struct Adaptation {
    peak: u64,
    settle_until: Option<Instant>,
    switched_at: Option<Instant>,
    headroom_since: Option<Instant>,
    hold_until: Option<Instant>,
    backoff: Duration,
}

impl Default for Adaptation {
    fn default() -> Self {
        Adaptation {
            peak: 0,
            settle_until: None,
            switched_at: None,
            headroom_since: None,
            hold_until: None,
            backoff: BACKOFF_MIN,
        }
    }
}

impl Adaptation {
    /// The layer for the next window: `current` is what the subscriber gets now, `requested`
    /// its cap (bits/s), `remb` its browser's latest estimate.
    pub fn choose(
        &mut self,
        layers: &[Layer],
        current: Option<u32>,
        requested: Option<u64>,
        remb: Option<u64>,
        now: Instant,
    ) -> Option<u32> {
        let mut sending: Vec<&Layer> = layers.iter().filter(|l| l.bitrate > 0).collect();
        if sending.is_empty() {
            return current.or(layers.first().map(|l| l.ssrc));
        }
        sending.sort_by_key(|l| l.bitrate);
        let lowest = sending[0];
        let mut allowed: Vec<&Layer> = sending
            .into_iter()
            .filter(|l| requested.is_none_or(|r| l.bitrate <= r))
            .collect();
        if allowed.is_empty() {
            allowed.push(lowest);
        }
        let pos = current.and_then(|c| allowed.iter().position(|l| l.ssrc == c));
        let (Some(remb), Some(pos)) = (remb, pos) else {
            // No estimate: the best the request allows. Not on an allowed layer (first
            // choice, a lower request, a layer that stopped): the best the estimate covers.
            let best = match remb {
                None => allowed[allowed.len() - 1],
                Some(r) => allowed
                    .iter()
                    .rev()
                    .find(|l| l.bitrate <= r)
                    .copied()
                    .unwrap_or(allowed[0]),
            };
            return self.go(current, best.ssrc, now);
        };
        let cur = allowed[pos];
        if self.settle_until.is_none_or(|t| now >= t) {
            self.peak = self.peak.max(remb);
            if (remb as f64) < self.peak as f64 * CONGESTION {
                self.peak = remb;
                if pos > 0 {
                    let down = allowed[..pos]
                        .iter()
                        .rev()
                        .find(|l| l.bitrate <= remb)
                        .copied()
                        .unwrap_or(allowed[0]);
                    self.hold_until = Some(now + self.backoff);
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                    return self.go(current, down.ssrc, now);
                }
            } else if self
                .switched_at
                .is_some_and(|t| now.duration_since(t) >= STABLE)
            {
                self.backoff = BACKOFF_MIN;
            }
        }
        if let Some(up) = allowed.get(pos + 1) {
            // The estimate already covers a higher layer: no need to try.
            if let Some(best) = allowed[pos + 1..].iter().rev().find(|l| l.bitrate <= remb) {
                return self.go(current, best.ssrc, now);
            }
            if remb as f64 >= cur.bitrate as f64 * HEADROOM {
                let since = *self.headroom_since.get_or_insert(now);
                if now.duration_since(since) >= HEADROOM_FOR
                    && self.hold_until.is_none_or(|t| now >= t)
                {
                    return self.go(current, up.ssrc, now);
                }
            } else {
                self.headroom_since = None;
            }
        }
        Some(cur.ssrc)
    }

    fn go(&mut self, current: Option<u32>, ssrc: u32, now: Instant) -> Option<u32> {
        if current != Some(ssrc) {
            self.peak = 0;
            self.settle_until = Some(now + SETTLE);
            self.switched_at = Some(now);
            self.headroom_since = None;
        }
        Some(ssrc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(ssrc: u32, bitrate: u64) -> Layer {
        let mut l = Layer::new(ssrc, None, Instant::now());
        l.bitrate = bitrate;
        l
    }

    #[test]
    fn picks_the_best_layer_under_the_limit() {
        let layers = [layer(1, 150_000), layer(2, 500_000), layer(3, 1_500_000)];
        assert_eq!(choose(&layers, None), Some(3));
        assert_eq!(choose(&layers, Some(2_000_000)), Some(3));
        assert_eq!(choose(&layers, Some(600_000)), Some(2));
        assert_eq!(choose(&layers, Some(200_000)), Some(1));
        // Nothing fits: the lowest.
        assert_eq!(choose(&layers, Some(10_000)), Some(1));
    }

    #[test]
    fn skips_layers_that_stopped_and_handles_no_measurement() {
        let layers = [layer(1, 150_000), layer(2, 0), layer(3, 0)];
        assert_eq!(choose(&layers, None), Some(1));
        let unmeasured = [layer(7, 0), layer(8, 0)];
        assert_eq!(choose(&unmeasured, None), Some(7));
        assert_eq!(choose(&[], None), None);
    }

    /// Steps `a` once a second for `secs` seconds with a constant estimate; returns the
    /// layer after each step.
    fn run(
        a: &mut Adaptation,
        layers: &[Layer],
        current: &mut Option<u32>,
        requested: Option<u64>,
        remb: u64,
        t: &mut Instant,
        secs: u64,
    ) -> Vec<u32> {
        (0..secs)
            .map(|_| {
                *t += Duration::from_secs(1);
                *current = a.choose(layers, *current, requested, Some(remb), *t);
                current.unwrap()
            })
            .collect()
    }

    #[test]
    fn a_low_estimate_alone_does_not_step_down_and_room_is_tried_one_step_up() {
        let layers = [layer(1, 150_000), layer(2, 500_000), layer(3, 1_500_000)];
        let mut a = Adaptation::default();
        let mut t = Instant::now();
        // No estimate yet: the best.
        let mut cur = a.choose(&layers, None, None, None, t);
        assert_eq!(cur, Some(3));
        // The browser's estimate ramps up slowly below the layer's bitrate: no step down.
        for remb in [300_000, 330_000, 360_000, 400_000] {
            assert_eq!(run(&mut a, &layers, &mut cur, None, remb, &mut t, 1), [3]);
        }
        // Asked for 100 kbit/s: the lowest at once.
        cur = a.choose(&layers, cur, Some(100_000), Some(400_000), t);
        assert_eq!(cur, Some(1));
        // The cap lifted; the estimate follows the lower incoming rate (1.5 x 150k + 10k =
        // 235k): room for more, tried after 2 s (and 2 s of settling), one layer up.
        let steps = run(&mut a, &layers, &mut cur, None, 235_000, &mut t, 6);
        assert_eq!(steps.first(), Some(&1));
        assert_eq!(steps.last(), Some(&2), "{steps:?}");
        // Then on up again the same way, with the estimate following.
        let steps = run(&mut a, &layers, &mut cur, None, 760_000, &mut t, 6);
        assert_eq!(steps.last(), Some(&3), "{steps:?}");
    }

    #[test]
    fn congestion_steps_down_and_holds_off_with_a_doubling_backoff() {
        let layers = [layer(1, 150_000), layer(2, 500_000), layer(3, 1_500_000)];
        let mut a = Adaptation::default();
        let mut t = Instant::now();
        let mut cur = a.choose(&layers, None, None, Some(2_000_000), t);
        assert_eq!(cur, Some(3));
        assert_eq!(
            run(&mut a, &layers, &mut cur, None, 2_000_000, &mut t, 3),
            [3, 3, 3]
        );
        // Overuse: the estimate drops to 600k (below 85 % of its 2M peak): down to what it
        // covers (500k).
        assert_eq!(
            run(&mut a, &layers, &mut cur, None, 600_000, &mut t, 1),
            [2]
        );
        // Room again (600k > 1.2 x 500k), but held for the 5 s backoff (plus settling).
        let steps = run(&mut a, &layers, &mut cur, None, 650_000, &mut t, 4);
        assert_eq!(steps, [2, 2, 2, 2]);
        let steps = run(&mut a, &layers, &mut cur, None, 650_000, &mut t, 3);
        assert_eq!(steps.last(), Some(&3), "{steps:?}");
        // Congestion again (400k, below 85 % of the 650k peak): down to what 400k covers,
        // the lowest; this time the step up is held for 10 s.
        assert_eq!(
            run(&mut a, &layers, &mut cur, None, 400_000, &mut t, 3),
            [1, 1, 1]
        );
        // An estimate that covers the middle layer takes it at once; the top one waits for the
        // end of the backoff.
        let steps = run(&mut a, &layers, &mut cur, None, 650_000, &mut t, 6);
        assert_eq!(steps, [2, 2, 2, 2, 2, 2]);
        let steps = run(&mut a, &layers, &mut cur, None, 650_000, &mut t, 3);
        assert_eq!(steps.last(), Some(&3), "{steps:?}");
    }

    #[test]
    fn an_estimate_that_covers_a_higher_layer_is_taken_at_once_within_the_request() {
        let layers = [layer(1, 150_000), layer(2, 500_000), layer(3, 1_500_000)];
        let mut a = Adaptation::default();
        let t = Instant::now();
        let cur = a.choose(&layers, Some(1), None, Some(600_000), t);
        assert_eq!(cur, Some(2));
        let cur = a.choose(&layers, Some(1), Some(200_000), Some(5_000_000), t);
        assert_eq!(cur, Some(1), "the request caps");
        // A layer that stopped is left for the best one sending.
        let stopped = [layer(1, 150_000), layer(2, 0), layer(3, 1_500_000)];
        assert_eq!(a.choose(&stopped, Some(2), None, None, t), Some(3));
    }

    #[test]
    fn measures_bitrate_per_window() {
        let t0 = Instant::now();
        let mut l = Layer::new(1, Some("h".into()), t0);
        for _ in 0..100 {
            l.count(1250);
        }
        assert!(!l.tick(t0 + Duration::from_millis(500)));
        assert!(l.tick(t0 + Duration::from_secs(1)));
        assert_eq!(l.bitrate, 1_000_000);
        assert!(l.tick(t0 + Duration::from_secs(2)));
        assert_eq!(l.bitrate, 0);
    }
}
