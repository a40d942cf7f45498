//! Bad input gets a clear error or no answer (as the protocol says), changes nothing, and
//! never breaks the connection or the server.
mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn ignored_messages_get_no_reply_and_the_connection_stays_usable() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    let silent = [
        "{not json",
        "",
        "[1, 2, 3]",
        "\"just a string\"",
        "42",
        r#"{"transaction": "t1"}"#,
        r#"{"sylkrtc": "no-such-request", "transaction": "t2"}"#,
        r#"{"sylkrtc": 5, "transaction": "t3"}"#,
        r#"{"sylkrtc": "account-add", "account": "a@b"}"#,
    ];
    for text in silent {
        c.send_text(text).await;
    }
    c.ws.send(Message::binary(b"\x00\x01binary".to_vec()))
        .await
        .unwrap();
    c.expect_silence(QUIET).await;
    let ack = c.request(json!({"sylkrtc": "ping"})).await;
    assert_eq!(ack["sylkrtc"], "ack");
    gw.wait_log("ignored binary frame");
    gw.wait_log("unknown WebSocket request: no-such-request");
}

#[tokio::test]
async fn validation_errors_are_answered_with_the_exact_text() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    let cases = [
        (
            json!({"sylkrtc": "account-add", "account": "alice@example.com"}),
            "Mandatory property 'password' of 'AccountAddRequest' object is missing",
        ),
        (
            json!({"sylkrtc": "account-add", "account": "alice@example.com", "password": ""}),
            "the value's length must be between 1 and 9999 inclusive",
        ),
        (
            json!({"sylkrtc": "account-add", "account": "not a uri", "password": HA1}),
            "invalid SIP URI: not a uri",
        ),
        (
            json!({"sylkrtc": "session-trickle", "session": "s", "candidates": [{"sdpMid": "0", "sdpMLineIndex": 0}]}),
            "Mandatory property 'candidate' of 'ICECandidate' object is missing",
        ),
        (
            json!({"sylkrtc": "videoroom-composing-indication", "session": "s", "state": "typing"}),
            "Invalid value for 'state' property: 'typing' (expected: active or idle)",
        ),
    ];
    for (req, text) in cases {
        let m = c.request(req).await;
        assert_eq!(m["sylkrtc"], "error");
        assert_eq!(m["error"], json!(text));
    }
    // A non-string transaction is echoed raw.
    c.send(&json!({"sylkrtc": "ping", "transaction": 7})).await;
    assert_eq!(
        c.recv().await.unwrap(),
        json!({"sylkrtc": "error", "transaction": 7, "error": "Invalid value for 'transaction' property: 7"})
    );
    // Nothing was added by the failed account-add: a valid one now succeeds.
    let m = c
        .request(json!({"sylkrtc": "account-add", "account": "alice@example.com", "password": HA1}))
        .await;
    assert_eq!(m["sylkrtc"], "ack");
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let gw = Gateway::start(&["--max-frame-size", "4096"]);
    let mut victim = gw.ready_client().await;
    let mut other = gw.ready_client().await;
    let big = json!({"sylkrtc": "ping", "transaction": "x".repeat(5000)});
    victim.send(&big).await;
    let (code, reason) = victim.closed().await.expect("a close frame");
    assert_eq!(code, 1009);
    assert!(reason.contains("4096"), "{reason}");
    // The other connection and the server are untouched.
    assert_eq!(
        other.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
    let mut fresh = gw.ready_client().await;
    assert_eq!(
        fresh.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
    // Just under the limit is fine.
    let fine = json!({"sylkrtc": "ping", "transaction": "y".repeat(3000)});
    fresh.send(&fine).await;
    assert_eq!(fresh.recv().await.unwrap()["sylkrtc"], "ack");
    gw.wait_log("frame over the size limit");
}

#[tokio::test]
async fn invalid_utf8_text_frame_closes_with_1007() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    // A text frame whose payload is not UTF-8 (sent raw, bypassing the client's checks).
    use tokio_tungstenite::tungstenite::protocol::frame::{coding::Data, coding::OpCode, Frame};
    let frame = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    c.ws.send(Message::Frame(frame)).await.unwrap();
    let closed = c.closed().await;
    assert_eq!(closed.map(|(code, _)| code), Some(1007));
    let mut fresh = gw.ready_client().await;
    assert_eq!(
        fresh.request(json!({"sylkrtc": "ping"})).await["sylkrtc"],
        "ack"
    );
}
