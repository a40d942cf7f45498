//! Simulcast layers of a publisher's video, and the choice of one layer per subscriber.
//!
//! A layer is one SSRC (with its rid when the browser simulcasts). Its bitrate is measured
//! over one-second windows. A subscriber's limit is the lower of what it asked for
//! (`videoroom-session-update` `bitrate`) and what its browser estimates it can receive
//! (REMB); it gets the best layer under that limit, or the lowest when none fits.

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
