//! WebSocket-level pings keep live connections and drop dead ones.
mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn a_client_that_answers_pings_stays_and_a_silent_one_is_dropped() {
    // Ping every 0.4 s, so the pong timeout is 0.2 s.
    let gw = Gateway::start(&["--websocket-ping-interval", "0.4"]);
    let mut live = gw.ready_client().await;
    let mut dead = gw.ready_client().await;
    // `live` keeps reading, so tungstenite answers every ping; it outlives several intervals.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        let m = live.request(json!({"sylkrtc": "ping"})).await;
        assert_eq!(m["sylkrtc"], "ack");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // `dead` never read, so it never answered a ping: the gateway has dropped it.
    gw.wait_log("no pong within the ping timeout");
    let _ = dead.closed().await;
    assert_eq!(
        live.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
}
