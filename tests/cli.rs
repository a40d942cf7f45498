//! The command line: --help, bad settings fail at start naming the setting, SIGTERM stops.
mod common;

use std::process::Command;

use common::*;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn help_lists_the_flags() {
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--config",
        "--listen",
        "--data-dir",
        "--no-tls",
        "--log-level",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[test]
fn bad_settings_fail_at_start_and_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--listen".into(), "not-an-address".into()], "--listen"),
        (vec!["--log-level".into(), "info,[[".into()], "log_level"),
        (
            vec!["--max-frame-size".into(), "12".into()],
            "max_frame_size",
        ),
        (
            vec!["--websocket-ping-interval".into(), "0".into()],
            "websocket_ping_interval",
        ),
        (
            vec!["--config".into(), "/nonexistent/gw.toml".into()],
            "/nonexistent/gw.toml",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, text) = run(&args);
        assert_ne!(code, 0, "{args:?} started");
        assert!(
            text.contains(needle),
            "{args:?}: message does not name {needle}:\n{text}"
        );
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:0\"\nmax_frame_sise = 10\n").unwrap();
    let (code, text) = run(&["--config", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(text.contains("max_frame_sise"), "{text}");
    std::fs::write(&bad, "websocket_ping_interval = \"often\"\n").unwrap();
    let (code, text) = run(&["--config", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(text.contains("websocket_ping_interval"), "{text}");
}

#[tokio::test]
async fn config_file_and_environment_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, "no_tls = true\nsip_domains = [\"example.com\"]\n").unwrap();
    let gw = Gateway::start_with(
        &["--config", file.to_str().unwrap()],
        None,
        &[("SYLK_LOG_LEVEL", "debug")],
    );
    // no_tls from the file: plain ws works.
    assert!(gw.log().contains("(http;"), "{}", gw.log());
    let url = format!("ws://{}/webrtcgateway/ws", gw.addr);
    let mut c = Client::connect(&url, None).await;
    assert_eq!(c.recv().await.unwrap()["sylkrtc"], "ready-event");
    // sip_domains from the file.
    let m = c
        .request(serde_json::json!({"sylkrtc": "account-add", "account": "a@other.org", "password": HA1}))
        .await;
    assert_eq!(m["error"], "SIP domain not allowed: other.org");
    // The log level from the environment: request lines are logged at debug.
    gw.wait_log("DEBUG");
}

#[tokio::test]
async fn sigterm_closes_connections_and_exits() {
    let mut gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    let status = gw.terminate();
    assert!(status.success(), "exit status {status:?}");
    let closed = c.closed().await;
    assert_eq!(closed.map(|(code, _)| code), Some(1001));
}
