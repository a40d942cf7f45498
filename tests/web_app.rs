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
