//! The web application in 1:1 calls with a real SIP phone: headless Chromium (fake microphone)
//! runs the app served by the gateway (tests/browser/app_call_test.js), signs in as alice
//! through Kamailio, calls bob's baresip and is called by it (answering from the incoming
//! screen), with audio both ways each time (the page's getStats and baresip's RTP counters),
//! and a second sign-in with a wrong password shows "Registration failed: 401 Unauthorized".
//! Screenshots go to `target/test-output/sip_web_app/`. Same network rule as the other
//! browser tests.
mod common;

use std::process::Command;
use std::time::Duration;

use common::browser::*;
use common::sip::*;
use common::Gateway;

#[test]
fn the_web_app_calls_baresip_and_answers_it() {
    require_peers(&peers_tools(), &chromium());
    match seal_network() {
        Ok(()) => println!("network: new namespace, loopback only"),
        Err(why) => println!("network: no namespace ({why}); host network, 127.0.0.1 only"),
    }
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let shots = repo().join("target/test-output/sip_web_app");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/app_call_test.js"))
        .arg(format!("http://{}", gw.addr))
        .env("NODE_PATH", peers_tools().join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("BCTL", shared_peers().join("baresip/bctl.py"))
        .env("SHOT_DIR", &shots);
    let (ok, stdout, stderr) = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        ok,
        "web app call test failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- baresip:\n{}\n--- gateway (tail):\n{}",
        tail(&stderr, 80),
        tail(&bob.log(), 40),
        tail(&gw.log(), 80)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    println!("{summary}");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["outgoing"]["peer"], "bob@127.0.0.1", "{summary}");
    assert_eq!(
        summary["outgoing"]["end"]["reason"], "200 to BYE",
        "{summary}"
    );
    assert!(
        summary["incoming"]["caller"]
            .as_str()
            .unwrap()
            .contains("bob"),
        "{summary}"
    );
    assert_eq!(
        summary["incoming"]["end"]["reason"], "200 to BYE",
        "{summary}"
    );
    assert_eq!(
        summary["wrong_password"], "Registration failed: 401 Unauthorized",
        "{summary}"
    );
    // baresip counted what it received from the gateway in the last call.
    let (sent, received) = bob.rtp_packets();
    assert!(
        received > 50 && sent > 50,
        "baresip RTP: sent {sent}, received {received}"
    );
}
