//! Requests of one connection are answered strictly in order, and `ping` is answered at once
//! even while other requests wait in the connection's queue.
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

#[tokio::test]
async fn burst_of_200_pipelined_requests_answered_in_order() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    // A mix of requests that succeed and fail in the handler, sent without waiting.
    let mut expected = Vec::new();
    for i in 0..200 {
        let t = format!("burst-{i}");
        let (req, answer) = match i % 4 {
            0 => (
                json!({"sylkrtc": "account-add", "account": format!("user{i}@example.com"), "password": HA1, "transaction": t}),
                "ack",
            ),
            1 => (
                json!({"sylkrtc": "account-add", "account": format!("user{}@example.com", i - 1), "password": HA1, "transaction": t}),
                "error",
            ),
            2 => (
                json!({"sylkrtc": "account-remove", "account": format!("user{}@example.com", i - 2), "transaction": t}),
                "ack",
            ),
            _ => (
                json!({"sylkrtc": "session-terminate", "session": "nope", "transaction": t}),
                "error",
            ),
        };
        c.send(&req).await;
        expected.push((t, answer));
    }
    for (t, answer) in expected {
        let m = c.recv().await.expect("answer");
        assert_eq!(m["transaction"], json!(t), "answers out of order");
        assert_eq!(m["sylkrtc"], json!(answer), "{m}");
    }
    c.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn ping_is_acked_while_requests_are_queued() {
    // Each queued request takes 300 ms in the handler (fault injection).
    let gw = Gateway::start(&["--debug-request-delay-ms", "300"]);
    let mut c = gw.ready_client().await;
    for i in 0..5 {
        c.send(&json!({"sylkrtc": "account-add", "account": format!("q{i}@example.com"), "password": HA1, "transaction": format!("q{i}")}))
            .await;
    }
    let sent = Instant::now();
    c.send(&json!({"sylkrtc": "ping", "transaction": "the-ping"}))
        .await;
    let first = c.recv().await.unwrap();
    assert_eq!(first, json!({"sylkrtc": "ack", "transaction": "the-ping"}));
    // It came before the first queued request finished (which takes at least 300 ms).
    assert!(sent.elapsed() < Duration::from_millis(300));
    for i in 0..5 {
        let m = c.recv().await.unwrap();
        assert_eq!(m, json!({"sylkrtc": "ack", "transaction": format!("q{i}")}));
    }
}
