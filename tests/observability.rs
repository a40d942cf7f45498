//! What an operator watches: `/health` and `/ready` answer with JSON, logs can be JSON lines,
//! RUST_LOG turns logs up (and a bad one stops the start, naming it), and browsers' routine
//! DTLS extensions do not flood the log with warnings.
mod common;

use common::Gateway;
use serde_json::Value;

/// GET `path`: (status code, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let out = common::http_get(addr, path).await;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

#[tokio::test]
async fn health_and_ready_answer_with_json() {
    let gw = Gateway::start(&["--media-shards", "2"]);
    let (code, body) = get(gw.addr, "/health").await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");

    let (code, body) = get(gw.addr, "/ready").await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["accepting"], true);
    assert_eq!(v["media"]["shards"], 2, "every shard answered: {v}");
    assert_eq!(v["store"], true);
    assert_eq!(v["sip"], true);
}

#[tokio::test]
async fn rust_log_turns_the_logs_up_and_a_bad_one_is_refused() {
    let gw = Gateway::start_with(&["--no-tls"], None, &[("RUST_LOG", "info,media=debug")]);
    // Each media engine operation is logged at debug, with how long it took: `/ready` makes
    // one on every shard.
    let (code, _) = get(gw.addr, "/ready").await;
    assert_eq!(code, 200);
    let log = gw.wait_log("operation done");
    assert!(log.contains(" DEBUG "), "{log}");
    drop(gw);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
        .args(["--listen", "127.0.0.1:0", "--media-port", "0", "--no-tls"])
        .env("RUST_LOG", "media=notalevel")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RUST_LOG"), "{err}");
}

#[test]
fn browsers_dtls_extensions_are_not_logged_as_warnings() {
    let config = sylk_gateway::config::Config::default();
    let filter = config.log_filter();
    assert!(filter.contains("rtc_dtls::handshake::handshake_message_client_hello=error"));
    // An operator who names the module gets what they asked for.
    let named =
        config.log_filter_from("info,rtc_dtls::handshake::handshake_message_client_hello=debug");
    assert!(
        !named.contains("handshake_message_client_hello=error"),
        "{named}"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let gw = Gateway::start(&["--log-format", "json"]);
    let (code, _) = get(gw.addr, "/health").await;
    assert_eq!(code, 200);
    let log = gw.wait_log("media shard listening");
    let mut lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["target"].is_string(), "{v}");
        assert!(v["fields"]["message"].is_string(), "{v}");
        lines += 1;
    }
    assert!(lines >= 3, "{log}");
    assert!(log.contains("listening on"));
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
            "--no-tls",
            "--log-format",
            "xml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log_format"));
}
