//! The small types every part of the media crate shares: who (a peer, a shard) and what (a
//! media kind), and the wall clock that RTCP needs, handed in rather than read.

use std::time::{Duration, Instant};

/// Identifies a peer (a publisher's, a subscriber's or a call's transport). The shard that
/// owns it is in the top byte, so a command finds its shard without a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// A room's audio mix on a shard (the application's room number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MixId(pub u64);

/// One engine shard (a thread with its own sockets, peers and rooms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ShardId(pub u8);

const SHARD_SHIFT: u32 = 56;

impl PeerId {
    /// The `n`th peer id of `shard` (`n` below 2^56).
    pub fn new(shard: ShardId, n: u64) -> PeerId {
        PeerId((u64::from(shard.0) << SHARD_SHIFT) | (n & ((1 << SHARD_SHIFT) - 1)))
    }

    /// The shard that owns this peer.
    pub fn shard(self) -> ShardId {
        ShardId((self.0 >> SHARD_SHIFT) as u8)
    }
}

/// How a browser's packets travel: UDP on the shard's socket, or ICE-TCP (RFC 6544, framed
/// by RFC 4571) on a connection to the shard's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    Udp,
    Tcp,
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio,
    Video,
}

/// The video codec of a room: what its publishers send and its subscribers get, forwarded
/// as it is (no transcoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VideoCodec {
    #[default]
    Vp8,
    Vp9,
    /// Constrained Baseline (`profile-level-id=42e01f`), `packetization-mode=1`: what every
    /// browser encodes and decodes.
    H264,
}

impl VideoCodec {
    pub const ALL: [VideoCodec; 3] = [VideoCodec::Vp8, VideoCodec::Vp9, VideoCodec::H264];

    /// `vp8`, `vp9` or `h264` (any case).
    pub fn parse(name: &str) -> Option<VideoCodec> {
        VideoCodec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "vp8",
            VideoCodec::Vp9 => "vp9",
            VideoCodec::H264 => "h264",
        }
    }
}

/// Wall-clock time for monotonic instants: the NTP timestamps of RTCP sender reports. The
/// shell reads the system clock once and hands this in; the cores never read a clock.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    instant: Instant,
    since_epoch: Duration,
}

impl WallClock {
    /// `since_epoch`: the time since 1970 at `instant`.
    pub fn new(instant: Instant, since_epoch: Duration) -> WallClock {
        WallClock {
            instant,
            since_epoch,
        }
    }

    /// The system clock now (for shells and tests).
    pub fn system() -> WallClock {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        WallClock::new(Instant::now(), since_epoch)
    }

    /// NTP time (RFC 3550: seconds since 1900 in 32.32 fixed point) at `now`.
    pub fn ntp(&self, now: Instant) -> u64 {
        const NTP_EPOCH_OFFSET: u64 = 2_208_988_800;
        let t = self.since_epoch + now.saturating_duration_since(self.instant);
        let secs = t.as_secs() + NTP_EPOCH_OFFSET;
        let frac = (u64::from(t.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_id_names_its_shard() {
        let id = PeerId::new(ShardId(3), 12345);
        assert_eq!(id.shard(), ShardId(3));
        assert_eq!(id.0 & 0xffff_ffff, 12345);
        assert_eq!(PeerId(7).shard(), ShardId(0));
        assert_ne!(PeerId::new(ShardId(1), 5), PeerId::new(ShardId(2), 5));
    }

    #[test]
    fn ntp_time_is_wall_clock_in_32_32() {
        let now = Instant::now();
        let clock = WallClock::new(now, Duration::from_secs(1_800_000_000));
        let a = clock.ntp(now);
        let b = clock.ntp(now + Duration::from_millis(1500));
        let diff = b - a;
        // 1.5 s in 32.32 fixed point, within rounding.
        assert!((diff as i64 - (3u64 << 31) as i64).abs() < 4, "{diff}");
        assert_eq!(a >> 32, 1_800_000_000 + 2_208_988_800);
    }
}
