//! The load tool (`cargo bench --bench loadtest`) at small scale: one room, one publisher and
//! five subscribers for a few seconds. It asserts that media reaches every subscriber, nothing
//! about speed (figures come from the tool, in release builds: see the README).
mod common;

use std::time::Duration;

use common::load::{self, LoadConfig};
use common::Gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_subscribers_each_receive_the_publishers_media() {
    let mut args = vec!["--media-shards", "2", "--log-level", "media=debug,info"];
    args.extend_from_slice(load::LIMITS);
    let gw = Gateway::start(&args);
    let cfg = LoadConfig {
        rooms: 1,
        subscribers: 5,
        viewers: 1,
        seconds: 2.0,
        video_interval: Duration::from_millis(33),
        video_size: 1000,
    };
    let report = load::run(&gw, &cfg).await;
    report.print(&cfg);
    assert_eq!(report.silent, 0, "a subscriber got nothing");
    assert_eq!(report.joins.len(), 5);
    assert!(report.received > 0, "no packet in the measured window");
    // Every subscriber was counted in the window (each gets ~80 packets per second).
    assert!(
        report.received as f64 >= report.expected as f64 * 0.5,
        "{} of {} packets",
        report.received,
        report.expected
    );
    assert_eq!(
        report.gateway_share_us.len(),
        5,
        "the join trace is in the log"
    );
}
