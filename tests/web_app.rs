//! The web application the binary serves at /webrtcgateway/, driven in two headless Chromium
//! browser contexts (tests/browser/app_test.js, playwright-core; fake camera and microphone):
//! sign in (the registration failure and its reason shown), join a meeting by name, see the
//! other participant's named tile with decoded video, chat, raise a hand seen on both pages.
//! Screenshots of the final screens go to `target/test-output/web_app/`. Same network rule
//! as tests/browser_room.rs (a loopback-only namespace when the machine allows one).
mod common;

use std::process::Command;
use std::time::Duration;

use common::browser::*;
use common::Gateway;

#[test]
fn two_browsers_meet_chat_and_raise_a_hand_in_the_web_app() {
    require_peers(&peers_tools(), &chromium());
    match seal_network() {
        Ok(()) => println!("network: new namespace, loopback only"),
        Err(why) => println!("network: no namespace ({why}); host network, 127.0.0.1 only"),
    }
    let gw = Gateway::start(&[]);
    let shots = repo().join("target/test-output/web_app");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/app_test.js"))
        .arg(format!("http://{}", gw.addr))
        .env("NODE_PATH", peers_tools().join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("SHOT_DIR", &shots);
    let (ok, stdout, stderr) = run_with_timeout(cmd, Duration::from_secs(90));
    assert!(
        ok,
        "web app test failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- gateway (tail):\n{}",
        tail(&stderr, 80),
        tail(&gw.log(), 80)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    println!("{summary}");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["hand_label"], "Lower hand", "{summary}");
    for user in ["alice", "bob"] {
        let reg = summary["users"][user]["registration"].as_str().unwrap();
        assert!(
            reg.starts_with("Registration failed: DNS lookup error"),
            "{reg}"
        );
    }
    assert!(shots.join("alice-meeting.png").is_file());
    assert!(shots.join("bob-meeting.png").is_file());
}

#[test]
fn the_web_app_reconnects_when_the_gateway_comes_back() {
    require_peers(&peers_tools(), &chromium());
    let dir = tempfile::tempdir().unwrap();
    let signals = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start_with(&["--no-tls"], Some(dir.path().to_path_buf()), &[]);
    let listen = gw.addr.to_string();
    let shots = repo().join("target/test-output/web_app_reconnect");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/app_reconnect_test.js"))
        .arg(format!("http://{listen}"))
        .env("NODE_PATH", peers_tools().join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("SIGNAL_DIR", signals.path())
        .env("SHOT_DIR", &shots);
    let browser = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(90)));
    let wait_for = |name: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !signals.path().join(name).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the page never wrote {name}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("signed-in");
    gw.stop();
    wait_for("reconnecting");
    let gw = Gateway::start_with(
        &["--no-tls", "--listen", &listen],
        Some(dir.path().to_path_buf()),
        &[],
    );
    let (ok, stdout, stderr) = browser.join().unwrap();
    assert!(
        ok,
        "reconnect test failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- gateway (tail):\n{}",
        tail(&stderr, 60),
        tail(&gw.log(), 60)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    assert_eq!(
        summary["banner"], "Connection lost, reconnecting…",
        "{summary}"
    );
    assert!(
        summary["registration_again"]
            .as_str()
            .unwrap()
            .starts_with("Registration failed: DNS lookup error"),
        "{summary}"
    );
}
