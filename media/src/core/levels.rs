//! Publishers' audio levels (RFC 6464 `ssrc-audio-level`, read from the header extension the
//! browser puts on every audio packet): the loudest level of each publisher in a window of
//! [`PERIOD`], reported as 0-255 (the protocol's scale, 255 loudest) when it changed by
//! [`STEP`] or more, and a level above silence again every [`REFRESH`] windows even unchanged
//! (so that who joins learns who is talking, a steady voice too); a quiet room sends nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ids::PeerId;

/// How often levels are reported (the protocol's "about every 250 ms").
pub const PERIOD: Duration = Duration::from_millis(250);
/// The smallest change worth a report.
pub const STEP: u8 = 8;
/// Windows after which a level above silence is reported again though unchanged (1 s).
pub const REFRESH: u32 = 4;
/// RFC 6464's quietest level (-127 dBov): silence.
const SILENT: u8 = 127;

#[derive(Debug, Default)]
struct Level {
    /// The loudest -dBov of this window (0 loudest, 127 silence), if a packet carried one.
    loudest: Option<u8>,
    /// The last level reported (0-255).
    reported: Option<u8>,
    /// Windows since it was last reported.
    unreported: u32,
    /// Windows in a row with nothing but digital silence (or no audio at all).
    silent_windows: u32,
    /// Told as muted.
    muted: bool,
}

/// A publisher is muted after this many windows (2 s) of digital silence: a disabled
/// microphone track sends -127 dBov exactly, which no live microphone does for long (a test
/// tone's pauses, or a quiet room, still carry noise above it).
pub const MUTED_AFTER: u32 = 8;

/// The levels of the publishers of one core.
#[derive(Debug, Default)]
pub struct Levels {
    peers: HashMap<PeerId, Level>,
    next: Option<Instant>,
}

impl Levels {
    /// An audio packet of `peer` with the level extension's byte `ext` (V flag and -dBov).
    pub fn observe(&mut self, now: Instant, peer: PeerId, ext: u8) {
        let dbov = ext & 0x7f;
        let level = self.peers.entry(peer).or_default();
        level.loudest = Some(level.loudest.map_or(dbov, |l| l.min(dbov)));
        if self.next.is_none() {
            self.next = Some(now + PERIOD);
        }
    }

    pub fn remove(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        if self.peers.is_empty() {
            self.next = None;
        }
    }

    /// When [`Levels::tick`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// The end of a window: the levels that changed, as (peer, 0-255). A publisher that sent
    /// no audio in the window (muted, or its packets lost) counts as silent.
    /// `muted` gets the publishers that went silent ([`MUTED_AFTER`]) or made a sound
    /// again.
    pub fn tick(
        &mut self,
        now: Instant,
        out: &mut Vec<(PeerId, u8)>,
        muted: &mut Vec<(PeerId, bool)>,
    ) {
        if self.next.is_none_or(|t| t > now) {
            return;
        }
        self.next = Some(now + PERIOD);
        for (peer, level) in &mut self.peers {
            let loudest = level.loudest.take().unwrap_or(SILENT);
            if loudest >= SILENT {
                level.silent_windows = level.silent_windows.saturating_add(1);
                if level.silent_windows >= MUTED_AFTER && !level.muted {
                    level.muted = true;
                    muted.push((*peer, true));
                }
            } else {
                level.silent_windows = 0;
                if level.muted {
                    level.muted = false;
                    muted.push((*peer, false));
                }
            }
            let value = scale(loudest);
            let changed = match level.reported {
                None => value > 0,
                Some(r) => r.abs_diff(value) >= STEP || (value == 0 && r != 0),
            };
            level.unreported = level.unreported.saturating_add(1);
            if changed || (value > 0 && level.unreported >= REFRESH) {
                level.reported = Some(value);
                level.unreported = 0;
                out.push((*peer, value));
            }
        }
    }
}

/// -dBov (0 loudest .. 127 silence) as the protocol's 0-255 (255 loudest). Speech sits around
/// -20 to -40 dBov; everything below -100 dBov counts as silence.
fn scale(dbov: u8) -> u8 {
    const FLOOR: u16 = 100;
    let loudness = FLOOR.saturating_sub(u16::from(dbov.min(SILENT)));
    (loudness * 255 / FLOOR) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loudest_of_a_window_is_reported_once_and_silence_ends_it() {
        let t0 = Instant::now();
        let p = PeerId(1);
        let mut levels = Levels::default();
        let mut out = Vec::new();
        let mut muted = Vec::new();
        // Nothing heard yet: no timer, nothing reported.
        assert_eq!(levels.poll_timeout(), None);
        levels.observe(t0, p, 0x80 | 40);
        levels.observe(t0, p, 30);
        levels.observe(t0, p, 90);
        assert_eq!(levels.poll_timeout(), Some(t0 + PERIOD));
        levels.tick(t0, &mut out, &mut muted);
        assert!(out.is_empty(), "not due yet");
        levels.tick(t0 + PERIOD, &mut out, &mut muted);
        assert_eq!(out, vec![(p, scale(30))]);
        assert_eq!(scale(30), 178);
        // The same loudness again: nothing; a small change: nothing; a real one: reported.
        out.clear();
        levels.observe(t0, p, 30);
        levels.tick(t0 + PERIOD * 2, &mut out, &mut muted);
        levels.observe(t0, p, 31);
        levels.tick(t0 + PERIOD * 3, &mut out, &mut muted);
        assert!(out.is_empty(), "{out:?}");
        levels.observe(t0, p, 60);
        levels.tick(t0 + PERIOD * 4, &mut out, &mut muted);
        assert_eq!(out, vec![(p, scale(60))]);
        // Muted (silence, or no packets at all): 0 once, then nothing more.
        out.clear();
        levels.observe(t0, p, 127);
        levels.tick(t0 + PERIOD * 5, &mut out, &mut muted);
        levels.tick(t0 + PERIOD * 6, &mut out, &mut muted);
        levels.tick(t0 + PERIOD * 7, &mut out, &mut muted);
        assert_eq!(out, vec![(p, 0)]);
        levels.remove(p);
        assert_eq!(levels.poll_timeout(), None);
    }

    #[test]
    fn a_steady_voice_is_reported_again_every_second() {
        let t0 = Instant::now();
        let p = PeerId(1);
        let mut levels = Levels::default();
        let (mut out, mut muted) = (Vec::new(), Vec::new());
        for w in 1..=9 {
            levels.observe(t0, p, 30);
            levels.tick(t0 + PERIOD * w, &mut out, &mut muted);
        }
        // The first window, then every REFRESH windows.
        assert_eq!(out, vec![(p, scale(30)); 3]);
    }

    #[test]
    fn the_scale_runs_from_silence_to_full() {
        assert_eq!(scale(0), 255);
        assert_eq!(scale(100), 0);
        assert_eq!(scale(127), 0);
        assert_eq!(scale(200), 0);
        assert!(scale(20) > scale(40));
    }

    #[test]
    fn digital_silence_for_two_seconds_is_muted_and_a_sound_unmutes() {
        let t0 = Instant::now();
        let p = PeerId(1);
        let mut levels = Levels::default();
        let (mut out, mut muted) = (Vec::new(), Vec::new());
        let mut at = t0;
        // A tone with pauses shorter than the limit: never muted.
        for i in 0..20 {
            levels.observe(at, p, if i % 4 == 0 { 40 } else { 127 });
            at += PERIOD;
            levels.tick(at, &mut out, &mut muted);
        }
        assert!(muted.is_empty(), "{muted:?}");
        // Digital silence (a disabled track): muted once, after MUTED_AFTER windows.
        for _ in 0..MUTED_AFTER * 2 {
            levels.observe(at, p, 127);
            at += PERIOD;
            levels.tick(at, &mut out, &mut muted);
        }
        assert_eq!(muted, vec![(p, true)]);
        // The first sound unmutes.
        levels.observe(at, p, 50);
        at += PERIOD;
        levels.tick(at, &mut out, &mut muted);
        assert_eq!(muted, vec![(p, true), (p, false)]);
    }
}
