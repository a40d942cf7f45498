//! Rate limits without IO or clock: a token bucket, and a bounded table of buckets keyed by
//! something the network chooses (a source address), for the gateway's limits on requests,
//! broadcasts and SIP transactions.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Up to `burst` events at once, then `rate` per second on average.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: rate.max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        // `now` before `at` (an injected clock going back) adds nothing.
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = self.at.max(now);
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.take_n(1, now)
    }

    /// Takes `n` tokens if there are that many.
    pub fn take_n(&mut self, n: u32, now: Instant) -> bool {
        self.refill(now);
        let n = f64::from(n);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full at `now` (its state says nothing a new one would not).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// One bucket per key, for at most `capacity` keys. When the table is full, keys whose
/// bucket is full again are forgotten (they carry no state); if none is, a new key is
/// refused (an attacker with many addresses is limited together rather than allowed to grow
/// the table).
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    buckets: HashMap<K, TokenBucket>,
    rate: f64,
    burst: u32,
    capacity: usize,
    last_sweep: Option<Instant>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub fn new(rate: f64, burst: u32, capacity: usize) -> Self {
        KeyedLimiter {
            buckets: HashMap::new(),
            rate,
            burst,
            capacity: capacity.max(1),
            last_sweep: None,
        }
    }

    /// Whether `key` may do one more thing at `now`.
    pub fn allow(&mut self, key: &K, now: Instant) -> bool {
        if let Some(bucket) = self.buckets.get_mut(key) {
            return bucket.take(now);
        }
        if self.buckets.len() >= self.capacity {
            self.sweep(now);
            if self.buckets.len() >= self.capacity {
                return false;
            }
        }
        let mut bucket = TokenBucket::new(self.rate, self.burst, now);
        let allowed = bucket.take(now);
        self.buckets.insert(key.clone(), bucket);
        allowed
    }

    /// Forgets the keys whose bucket has refilled (at most once a second).
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        self.buckets.retain(|_, b| !b.is_full(now));
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 3, t0);
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_millis(400)));
        assert!(b.take(t0 + Duration::from_millis(500)));
        assert!(!b.take(t0 + Duration::from_millis(500)));
        // Refills up to the burst, not beyond.
        let later = t0 + Duration::from_secs(100);
        assert!(b.take_n(3, later));
        assert!(!b.take(later));
        // A clock going back gives nothing.
        assert!(!b.take(t0));
    }

    #[test]
    fn keys_are_limited_apart_and_the_table_is_bounded() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::new(1.0, 2, 3);
        assert!(l.allow(&1, t0) && l.allow(&1, t0));
        assert!(!l.allow(&1, t0));
        assert!(l.allow(&2, t0));
        assert!(l.allow(&3, t0));
        assert!(!l.allow(&4, t0), "table full of busy keys");
        assert_eq!(l.len(), 3);
        // Once their buckets refill, old keys make room.
        let later = t0 + Duration::from_secs(10);
        assert!(l.allow(&4, later));
        assert!(l.len() <= 3);
    }
}
