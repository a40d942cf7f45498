//! The WebSocket handshake: subprotocol required (406), ready-event first, origin check.
mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn without_subprotocol_gets_406() {
    let gw = Gateway::start(&[]);
    for protocol in [None, Some("sylkRTC-1"), Some("chat, superchat")] {
        let err = try_connect(&gw.ws_url(), protocol, None)
            .await
            .expect_err("handshake must be refused");
        match err {
            tokio_tungstenite::tungstenite::Error::Http(resp) => {
                assert_eq!(resp.status().as_u16(), 406, "{protocol:?}");
                let body =
                    String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string();
                assert_eq!(body, "No compatible protocol specified");
            }
            other => panic!("expected an HTTP 406, got {other:?}"),
        }
    }
    // A client offering several protocols including ours gets ours.
    let ws = try_connect(&gw.ws_url(), Some("foo, sylkRTC-2"), None).await;
    assert!(ws.is_ok());
}

#[tokio::test]
async fn ready_event_is_the_first_message() {
    let gw = Gateway::start(&[]);
    let mut c = gw.connect().await;
    assert_eq!(c.recv().await, Some(json!({"sylkrtc": "ready-event"})));
    // And the connection is usable right away.
    let ack = c.request(json!({"sylkrtc": "ping"})).await;
    assert_eq!(ack["sylkrtc"], "ack");
    gw.wait_log("websocket connection opened");
}

#[tokio::test]
async fn origin_is_checked_when_configured() {
    let gw = Gateway::start(&[
        "--web-origins",
        "https://app.example.com,https://*.example.org",
    ]);
    let with_origin = |origin: &'static str| {
        let url = gw.ws_url();
        async move {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut req = url.into_client_request().unwrap();
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", "sylkRTC-2".parse().unwrap());
            req.headers_mut().insert("Origin", origin.parse().unwrap());
            tokio_tungstenite::connect_async(req).await
        }
    };
    assert!(with_origin("https://app.example.com").await.is_ok());
    assert!(with_origin("https://x.example.org").await.is_ok());
    match with_origin("https://evil.example.net").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403)
        }
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    // Non-browser clients (no Origin header) are let in, as autobahn does.
    assert!(try_connect(&gw.ws_url(), Some("sylkRTC-2"), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn web_page_is_served() {
    let gw = Gateway::start(&[]);
    let body = common::http_get(gw.addr, "/webrtcgateway/").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("SylkServer WebRTC gateway"));
    let root = common::http_get(gw.addr, "/").await;
    assert!(root.contains("Welcome to SylkServer!"));
}
