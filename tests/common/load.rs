//! The load scenario of `benches/loadtest.rs` (and its smoke test): rooms of one publisher
//! (the `webrtc` crate, sending audio every 20 ms and video at a chosen rate) and N
//! subscribers each, all over the real sylkRTC-2 API of a gateway process. It measures join
//! to first packet at each subscriber, packets received and lost, the gateway's CPU per
//! forwarded packet (from /proc, whole process and each media shard thread) and its memory
//! per peer.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::room::{ack, join_room, trickle, uuid, Member};
use super::webrtc_peer::TestPeer;
use super::Gateway;

/// The `--limit`s a load run needs (many feeds and trickles on few connections).
pub const LIMITS: &[&str] = &[
    "--limit",
    "max_feeds_per_connection=100000",
    "--limit",
    "request_rate=100000",
    "--limit",
    "request_burst=100000",
    "--limit",
    "max_room_participants=100000",
];

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub rooms: usize,
    /// Subscribers per room.
    pub subscribers: usize,
    /// Connections per room that attach the subscribers (in parallel).
    pub viewers: usize,
    /// How long media is measured once everyone has joined.
    pub seconds: f64,
    pub video_interval: Duration,
    pub video_size: usize,
}

#[derive(Debug, Default)]
pub struct LoadReport {
    /// Feed-attach request sent -> first packet received, per subscriber.
    pub joins: Vec<Duration>,
    /// Subscribers that never got a packet.
    pub silent: usize,
    /// Packets received by every subscriber during the measured window.
    pub received: u64,
    /// Packets the publishers sent during the window, times their subscribers.
    pub expected: u64,
    /// Gateway CPU seconds during the window: whole process, and per media shard thread.
    pub cpu: f64,
    pub shard_cpu: Vec<(String, f64)>,
    pub window: Duration,
    /// Gateway resident memory before the subscribers joined and after.
    pub rss_before: u64,
    pub rss_after: u64,
    pub peers: usize,
    /// From the gateway's log, per subscriber: the time spent on its operations plus its
    /// transport up -> first packet sent (µs).
    pub gateway_share_us: Vec<u64>,
}

impl LoadReport {
    pub fn cpu_per_packet_us(&self) -> f64 {
        self.cpu * 1e6 / self.received.max(1) as f64
    }

    pub fn loss(&self) -> f64 {
        1.0 - self.received as f64 / self.expected.max(1) as f64
    }

    pub fn print(&self, cfg: &LoadConfig) {
        let pct = |v: &[Duration], p: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            let mut s = v.to_vec();
            s.sort();
            s[((s.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
        };
        let shares: Vec<Duration> = self
            .gateway_share_us
            .iter()
            .map(|m| Duration::from_micros(*m))
            .collect();
        println!(
            "rooms {} x 1 publisher -> {} subscribers ({} video pps of {} B + 50 audio pps)",
            cfg.rooms,
            cfg.subscribers,
            (1.0 / cfg.video_interval.as_secs_f64()).round(),
            cfg.video_size
        );
        println!(
            "join -> first packet: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms ({} joined, {} silent)",
            pct(&self.joins, 0.5),
            pct(&self.joins, 0.95),
            pct(&self.joins, 1.0),
            self.joins.len(),
            self.silent
        );
        println!(
            "gateway's share (its operations + transport up -> first packet sent): p50 {:.1} ms, max {:.1} ms",
            pct(&shares, 0.5),
            pct(&shares, 1.0)
        );
        println!(
            "packets: {} received of {} expected in {:.1} s (loss {:.2} %)",
            self.received,
            self.expected,
            self.window.as_secs_f64(),
            self.loss() * 100.0
        );
        println!(
            "gateway CPU: {:.3} s = {:.2} us per forwarded packet",
            self.cpu,
            self.cpu_per_packet_us()
        );
        for (name, cpu) in &self.shard_cpu {
            println!(
                "  {name}: {:.3} s ({:.0} % of one core)",
                cpu,
                cpu / self.window.as_secs_f64() * 100.0
            );
        }
        println!(
            "gateway memory: {} KB -> {} KB, {:.0} KB per peer ({} peers)",
            self.rss_before / 1024,
            self.rss_after / 1024,
            (self.rss_after.saturating_sub(self.rss_before)) as f64
                / 1024.0
                / self.peers.max(1) as f64,
            self.peers
        );
    }
}

/// CPU seconds of the process (all its threads) and of each media shard thread (by name),
/// from /proc/PID/task/TID/schedstat: the scheduler's own run time in nanoseconds. (The
/// utime/stime of /proc/PID/stat are sampled at the clock tick, which a thread that wakes
/// hundreds of times a second for a few microseconds each meets by chance.)
fn cpu(pid: u32) -> (f64, HashMap<String, f64>) {
    let mut total = 0.0;
    let mut threads = HashMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in dir.flatten() {
            let p = t.path();
            let ran = std::fs::read_to_string(p.join("schedstat"))
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<f64>().ok())
                })
                .unwrap_or(0.0)
                / 1e9;
            total += ran;
            let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            let name = name.trim().to_string();
            if name.starts_with("media-shard") {
                *threads.entry(name).or_insert(0.0) += ran;
            }
        }
    }
    (total, threads)
}

/// Pins threads to `cpus`: every thread of process `pid`, or with `pid` 0 the calling thread.
/// Threads started later inherit their creator's set, so a process pinned once it is up
/// stays pinned. (`--pin` of the load tool: the gateway on CPU 0, the load client on the
/// others, so that the client's threads, woken by the gateway's sends, do not preempt it.)
pub fn pin(pid: u32, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes within it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    let tids: Vec<i32> = if pid == 0 {
        vec![0]
    } else {
        std::fs::read_dir(format!("/proc/{pid}/task"))?
            .flatten()
            .filter_map(|t| t.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect()
    };
    for tid in tids {
        // SAFETY: a valid set of the size given.
        let r = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPUs other than CPU 0 (the load client's under `--pin`).
pub fn other_cpus() -> Vec<usize> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    (1..n.max(2)).collect()
}

/// Resident memory of a process, in bytes.
pub fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// Attaches one subscriber to `publisher` on the viewer's connection; returns it and when the
/// request went out.
async fn attach(m: &mut Member, publisher: &str) -> (TestPeer, Instant) {
    let trace = std::env::var_os("LOAD_TRACE").is_some();
    let feed = uuid();
    let started = Instant::now();
    let r = m
        .ws
        .request(json!({"sylkrtc": "videoroom-feed-attach", "session": m.session, "publisher": publisher, "feed": feed}))
        .await;
    ack(&r);
    let t_ack = started.elapsed();
    let attached = m.ws.room_event(&m.session, "feed-attached", None).await;
    let t_attached = started.elapsed();
    let sub = TestPeer::subscriber().await.unwrap();
    sub.count_only();
    // As a browser does: the answer at once, the candidates trickled after it.
    let answer = sub
        .answer_now(attached["sdp"].as_str().unwrap())
        .await
        .unwrap();
    let t_answer = started.elapsed();
    ack(&m
        .ws
        .request(json!({"sylkrtc": "videoroom-feed-answer", "session": m.session, "feed": feed, "sdp": answer}))
        .await);
    let t_answered = started.elapsed();
    trickle(&mut m.ws, &feed, &sub).await;
    if trace {
        eprintln!(
            "trace: ack {t_ack:?} feed-attached {t_attached:?} answer made {t_answer:?} answer acked {t_answered:?} trickled {:?}",
            started.elapsed()
        );
    }
    (sub, started)
}

/// Runs the scenario against `gw` (started with [`LIMITS`]).
pub async fn run(gw: &Gateway, cfg: &LoadConfig) -> LoadReport {
    run_across(gw, gw, cfg).await
}

/// [`run`] with the publishers on `gw` (where the rooms start and their media lives) and the
/// viewers on `viewers_gw`: two nodes of a cluster, whose viewers' requests are relayed to
/// the room's node (their media goes there directly).
pub async fn run_across(gw: &Gateway, viewers_gw: &Gateway, cfg: &LoadConfig) -> LoadReport {
    let pid = gw.pid();
    let mut publishers = Vec::new();
    let mut senders = Vec::new();
    for r in 0..cfg.rooms {
        let room = format!("load{r}-{}@conference.example.com", uuid());
        let publisher = join_room(gw, &format!("pub{r}"), &room).await;
        senders.push(
            publisher
                .publisher
                .start_sending_at(cfg.video_interval, cfg.video_size)
                .await
                .unwrap(),
        );
        publishers.push((room, publisher));
    }
    let rss_before = rss(pid);
    // Viewers per room attach their share of the subscribers, in parallel.
    let mut tasks = Vec::new();
    for (r, (room, publisher)) in publishers.iter().enumerate() {
        let viewers = cfg.viewers.clamp(1, cfg.subscribers.max(1));
        for v in 0..viewers {
            let share = cfg.subscribers / viewers + usize::from(v < cfg.subscribers % viewers);
            let mut viewer = join_room(viewers_gw, &format!("view{r}x{v}"), room).await;
            let target = publisher.session.clone();
            tasks.push(tokio::spawn(async move {
                let mut subs = Vec::new();
                for _ in 0..share {
                    subs.push(attach(&mut viewer, &target).await);
                }
                (viewer, subs)
            }));
        }
    }
    let mut viewers = Vec::new();
    let mut subs = Vec::new();
    for t in tasks {
        let (viewer, s) = t.await.unwrap();
        viewers.push(viewer);
        subs.extend(s);
    }
    let mut report = measure(pid, &subs, &senders, rss_before, cfg).await;
    // The gateway's own share of each join, from its log (media=debug): the time it spent on
    // the subscriber's operations (subscribe, answer, candidates), plus the time from its
    // transport coming up to the first packet sent (waiting for the client is not counted).
    let log = gw.log();
    let field = |line: &str, name: &str| -> Option<String> {
        line.split(&format!(" {name}="))
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(|v| v.trim_matches('"').to_string())
    };
    let mut up: HashMap<String, u64> = HashMap::new();
    let mut ops_us: HashMap<String, u64> = HashMap::new();
    let mut first_us: HashMap<String, u64> = HashMap::new();
    for line in log.lines() {
        let (Some(peer), Some(v)) = (field(line, "peer"), field(line, "us")) else {
            continue;
        };
        let Ok(v) = v.parse::<u64>() else { continue };
        if line.contains("transport up") {
            up.insert(peer, v);
        } else if line.contains("first media sent to subscriber") {
            first_us.insert(peer, v);
        } else if line.contains("operation done")
            && ["subscribe", "answer", "candidate"]
                .iter()
                .any(|op| field(line, "op").as_deref() == Some(*op))
        {
            *ops_us.entry(peer).or_insert(0) += v;
        }
    }
    for (peer, first) in &first_us {
        if let Some(u) = up.get(peer) {
            let ops = ops_us.get(peer).copied().unwrap_or(0);
            report.gateway_share_us.push(first.saturating_sub(*u) + ops);
        }
    }
    for (s, _) in &subs {
        let _ = s.close().await;
    }
    drop(senders);
    drop(viewers);
    report
}

/// What every backend shares once its subscribers are attached: waits for each one's first
/// packet, then measures the window (packets, CPU, memory).
pub async fn measure(
    pid: u32,
    subs: &[(TestPeer, Instant)],
    senders: &[super::webrtc_peer::SendHandle],
    rss_before: u64,
    cfg: &LoadConfig,
) -> LoadReport {
    // Every subscriber's first packet (or a timeout).
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && subs.iter().any(|(s, _)| s.counts().0.is_none()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut report = LoadReport {
        rss_before,
        rss_after: rss(pid),
        peers: subs.len(),
        ..LoadReport::default()
    };
    for (s, started) in subs {
        match s.counts().0 {
            Some(first) => report.joins.push(first.saturating_duration_since(*started)),
            None => report.silent += 1,
        }
    }
    // The measured window.
    let count = |subs: &[(TestPeer, Instant)]| -> u64 {
        subs.iter().map(|(s, _)| s.counts().1 + s.counts().2).sum()
    };
    let sent = |senders: &[super::webrtc_peer::SendHandle]| -> u64 {
        senders
            .iter()
            .map(|h| h.audio_sent() + h.video_sent())
            .sum()
    };
    let (cpu0, threads0) = cpu(pid);
    let (got0, sent0, t0) = (count(subs), sent(senders), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(cfg.seconds)).await;
    let (cpu1, threads1) = cpu(pid);
    let (got1, sent1) = (count(subs), sent(senders));
    report.window = t0.elapsed();
    report.cpu = cpu1 - cpu0;
    let mut names: Vec<_> = threads1.keys().cloned().collect();
    names.sort();
    report.shard_cpu = names
        .into_iter()
        .map(|n| {
            let d = threads1[&n] - threads0.get(&n).copied().unwrap_or(0.0);
            (n, d)
        })
        .collect();
    report.received = got1 - got0;
    report.expected = (sent1 - sent0) * cfg.subscribers as u64;
    report
}
