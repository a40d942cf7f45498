//! The load tool: rooms of one publisher and N subscribers (real WebRTC peers of the `webrtc`
//! crate) against a gateway process over the real sylkRTC-2 API, as `livekit-cli load-test`.
//! Prints join -> first packet (p50/p95/max), the gateway's own share of it (from its log),
//! packets received and lost, the gateway's CPU per forwarded packet and per media shard
//! (from /proc), and its memory per peer.
//!
//! `cargo bench --bench loadtest -- [--subscribers N] [--rooms R] [--viewers V]
//!   [--seconds S] [--video-pps P] [--video-size BYTES] [--shards K] [--send-batch B]
//!   [--log-level FILTER] [--log FILE] [--janus INTERFACE --peer-ip IP] [--cluster] [--pin]`
//! (defaults: 20 subscribers, 1 room, 4 viewers, 10 s, 200 video packets/s of 1,200 bytes,
//! shards and batch as the gateway's defaults). The gateway is the release binary
//! (`SYLK_GATEWAY_BIN` for another build). `--janus eth0 --peer-ip ADDR` runs the same scenario against a
//! Janus process (`apt-get install janus`; its VideoRoom over its WebSocket API) instead.
//! `--cluster` runs two nodes of a cluster (a PostgreSQL and a Redis of their own, from the
//! Debian packages): the scenario once with every viewer on the room's node, then with every
//! viewer on the other node (relayed), and prints both join -> first packet figures.
//! `--pin` runs the gateway (or Janus) on CPU 0 and the load client on the other CPUs: on
//! loopback the client's threads are woken by every datagram the gateway sends, and sharing
//! its core they preempt it hundreds of times a second, which a gateway whose clients are
//! elsewhere does not pay.
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::load::{self, LoadConfig};
use common::Gateway;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let num = |name: &str, default: f64| -> f64 {
        get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let cfg = LoadConfig {
        rooms: num("--rooms", 1.0) as usize,
        subscribers: num("--subscribers", 20.0) as usize,
        viewers: num("--viewers", 4.0) as usize,
        seconds: num("--seconds", 10.0),
        video_interval: Duration::from_secs_f64(1.0 / num("--video-pps", 200.0)),
        video_size: num("--video-size", 1200.0) as usize,
    };
    let level = get("--log-level").unwrap_or_else(|| "media=debug,info".into());
    let mut gw_args: Vec<String> = vec!["--log-level".into(), level];
    for (flag, name) in [
        ("--shards", "--media-shards"),
        ("--send-batch", "--media-send-batch"),
    ] {
        if let Some(v) = get(flag) {
            gw_args.push(name.into());
            gw_args.push(v);
        }
    }
    gw_args.extend(load::LIMITS.iter().map(|s| s.to_string()));
    let gw_args: Vec<&str> = gw_args.iter().map(String::as_str).collect();
    let pinned = args.iter().any(|a| a == "--pin");
    let pin_server = |pid: u32| {
        if pinned {
            load::pin(pid, &[0]).expect("pin the server to CPU 0");
        }
    };
    if pinned {
        // Before the runtime starts its threads: they inherit it.
        load::pin(0, &load::other_cpus()).expect("pin the load client");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Some(interface) = get("--janus") {
        // The same scenario against Janus (apt-get install janus), for comparison. Janus
        // gathers no loopback candidate: `--peer-ip` gives the clients the machine's own
        // address on that interface.
        if let Some(ip) = get("--peer-ip") {
            std::env::set_var("SYLK_PEER_IP", ip);
        }
        let janus = common::janus::Janus::start(&interface);
        pin_server(janus.pid());
        let report = runtime.block_on(common::janus::run(&janus, &cfg));
        println!("janus:");
        report.print(&cfg);
        return;
    }
    if args.iter().any(|a| a == "--cluster") {
        let pg = common::engines::Postgres::start();
        let redis = common::engines::Redis::start();
        let store = pg.database("loadtest");
        let node = |name: &str| common::engines::cluster_node(name, &redis, &store, &gw_args);
        let (a, b) = (node("a"), node("b"));
        pin_server(a.pid());
        pin_server(b.pid());
        a.wait_log("cluster: on the bus");
        b.wait_log("cluster: on the bus");
        let same = runtime.block_on(load::run_across(&a, &a, &cfg));
        println!("cluster, viewers on the room's node:");
        same.print(&cfg);
        let across = runtime.block_on(load::run_across(&a, &b, &cfg));
        println!("cluster, viewers on the other node (relayed over Redis):");
        across.print(&cfg);
        return;
    }
    let gw = Gateway::start(&gw_args);
    pin_server(gw.pid());
    let report = runtime.block_on(load::run(&gw, &cfg));
    report.print(&cfg);
    if let Some(path) = get("--log") {
        std::fs::write(&path, gw.log()).expect("write the gateway's log");
        println!("gateway log: {path}");
    }
}
