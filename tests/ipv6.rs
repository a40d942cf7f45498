//! A room over IPv6: signalling on `[::1]`, the test peers on `::1`, the media socket on its
//! default (every address, both families) advertising `::1`.
//! Its own test binary: it points the test peers at `::1` (SYLK_PEER_IP) for the process.
mod common;

use std::time::Duration;

use common::room::{attach, join_room};
use common::webrtc_peer::Kind;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_over_ipv6_loopback() {
    // SAFETY (edition 2021: set_var is safe): set before any peer exists; nothing else in
    // this process reads the environment concurrently.
    std::env::set_var("SYLK_PEER_IP", "::1");
    let gw = Gateway::start(&["--listen", "[::1]:0", "--advertise-ip", "::1"]);
    assert_eq!(gw.addr.ip().to_string(), "::1");
    let room = "ipv6@conference.example.com";
    let alice = join_room(&gw, "alice", room).await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join_room(&gw, "bob", room).await;
    let (_, sub) = attach(&mut bob, &alice.session.clone()).await;
    let video = sub
        .wait_received(Kind::Video, 10, Duration::from_secs(15))
        .await
        .unwrap();
    assert!(video.len() >= 10);
    // The candidates the gateway gave were IPv6 ones.
    assert!(gw.log().contains("advertised as [::1]"), "{}", gw.log());
}
