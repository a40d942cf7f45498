//! The web application's conversations with a SIP phone through Kamailio: a SIPp phone (bob)
//! sends alice a CPIM message, the app shows it unread, alice opens the conversation (the
//! phone receives the `displayed` IMDN after the `delivered` one), answers (the phone receives
//! her CPIM message), and the phone's display report turns her message's mark into "read"
//! (tests/browser/app_messages_test.js). Screenshots go to `target/test-output/sip_web_messages/`.
mod common;

use std::process::Command;
use std::time::Duration;

use common::browser::*;
use common::sip::*;
use common::Gateway;

#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_chats_with_a_sip_phone() {
    require_peers(&peers_tools(), &chromium());
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    // The phone takes alice's delivered and displayed reports and her answer.
    let sink = Sink::start(3);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let shots = repo().join("target/test-output/sip_web_messages");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/app_messages_test.js"))
        .arg(format!("http://{}", gw.addr))
        .env("NODE_PATH", peers_tools().join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("SCENARIOS", repo().join("tests/sip"))
        .env("SHOT_DIR", &shots);
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || run_with_timeout(cmd, Duration::from_secs(90)))
            .await
            .unwrap();
    assert!(
        ok,
        "web app messages test failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- gateway (tail):\n{}",
        tail(&stderr, 80),
        tail(&gw.log(), 80)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    println!("{summary}");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["badge"], "1", "{summary}");
    let sent = summary["sent"].as_str().unwrap();
    let got = sink.received().await;
    let reports: Vec<&String> = got
        .iter()
        .filter(|m| m.contains("message/imdn+xml"))
        .collect();
    assert!(
        reports
            .iter()
            .any(|m| m.contains("<message-id>phone1</message-id>") && m.contains("<delivered/>")),
        "{got:#?}"
    );
    assert!(
        reports
            .iter()
            .any(|m| m.contains("<message-id>phone1</message-id>") && m.contains("<displayed/>")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|m| m.contains(&format!("imdn.Message-ID: {sent}")) && m.contains("hello bob")),
        "{got:#?}"
    );
}
