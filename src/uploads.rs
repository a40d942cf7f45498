//! What HTTP uploads may cost: uploads in progress (in total and per IP address) and the
//! bytes all stored files may take on disk (conference sharing and 1:1 transfers together).
//!
//! The quota is kept as a running count of the bytes under both folders: counted once at
//! start and again by the hourly housekeeping (so deletions are caught up with), raised as an
//! upload writes, lowered when a failed upload's file or a room's files are deleted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;

use crate::config::Limits;

/// Why an upload was refused, as the HTTP status and text the client gets.
pub type Refusal = (StatusCode, &'static str);

pub const BUSY: Refusal = (
    StatusCode::SERVICE_UNAVAILABLE,
    "Too many uploads in progress",
);
pub const FULL: Refusal = (StatusCode::INSUFFICIENT_STORAGE, "Insufficient Storage");

#[derive(Default)]
struct InFlight {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

pub struct UploadLimits {
    in_flight: Mutex<InFlight>,
    max_total: usize,
    max_per_ip: usize,
    quota: u64,
    used: AtomicU64,
}

/// An upload's place among those in progress; given back when dropped.
pub struct Slot<'a> {
    limits: &'a UploadLimits,
    ip: IpAddr,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut f = self.limits.lock();
        f.total = f.total.saturating_sub(1);
        if let Some(n) = f.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                f.per_ip.remove(&self.ip);
            }
        }
    }
}

impl UploadLimits {
    pub fn new(limits: &Limits) -> Self {
        UploadLimits {
            in_flight: Mutex::default(),
            max_total: limits.max_concurrent_uploads,
            max_per_ip: limits.max_concurrent_uploads_per_ip,
            quota: limits.upload_quota,
            used: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, InFlight> {
        // Counters only: a poisoned lock holds nothing half done.
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for an upload from `ip`, or 503.
    pub fn begin(&self, ip: IpAddr) -> Result<Slot<'_>, Refusal> {
        let mut f = self.lock();
        let from_ip = f.per_ip.get(&ip).copied().unwrap_or(0);
        if f.total >= self.max_total || from_ip >= self.max_per_ip {
            tracing::info!(%ip, in_progress = f.total, from_ip, "upload refused: too many in progress");
            return Err(BUSY);
        }
        f.total += 1;
        f.per_ip.insert(ip, from_ip + 1);
        Ok(Slot { limits: self, ip })
    }

    /// Whether `bytes` more still fit (a declared size, before anything is written).
    pub fn fits(&self, bytes: u64) -> bool {
        self.used.load(Ordering::Relaxed).saturating_add(bytes) <= self.quota
    }

    /// Counts `bytes` about to be written; false (nothing counted) when they do not fit.
    pub fn reserve(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                let next = used.checked_add(bytes)?;
                (next <= self.quota).then_some(next)
            })
            .is_ok()
    }

    /// `bytes` were deleted.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// Sets the count to what the folders hold now.
    pub fn recount(&self, bytes: u64) {
        self.used.store(bytes, Ordering::Relaxed);
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// The bytes of every file under `dir` (blocking; missing folders count nothing).
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize, quota: u64) -> UploadLimits {
        UploadLimits::new(&Limits {
            max_concurrent_uploads: total,
            max_concurrent_uploads_per_ip: per_ip,
            upload_quota: quota,
            ..Limits::default()
        })
    }

    #[test]
    fn uploads_in_progress_are_bounded() {
        let l = limits(3, 2, 100);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        let one = l.begin(a).unwrap();
        let _two = l.begin(a).unwrap();
        assert_eq!(l.begin(a).err(), Some(BUSY));
        let _three = l.begin(b).unwrap();
        assert_eq!(l.begin(IpAddr::from([10, 0, 0, 3])).err(), Some(BUSY));
        drop(one);
        assert!(l.begin(a).is_ok());
    }

    #[test]
    fn quota_counts_what_is_written() {
        let l = limits(3, 2, 100);
        assert!(l.fits(100));
        assert!(l.reserve(60));
        assert!(!l.fits(41));
        assert!(!l.reserve(41), "past the quota");
        assert_eq!(l.used(), 60);
        assert!(l.reserve(40));
        l.release(70);
        assert_eq!(l.used(), 30);
        l.release(1000);
        assert_eq!(l.used(), 0);
        l.recount(99);
        assert!(!l.reserve(2));
        assert!(!l.reserve(u64::MAX));
    }

    #[test]
    fn usage_of_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/x"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("a/b/y"), [0u8; 5]).unwrap();
        assert_eq!(disk_usage(dir.path()), 15);
        assert_eq!(disk_usage(&dir.path().join("missing")), 0);
    }
}
