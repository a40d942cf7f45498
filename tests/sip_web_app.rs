//! The web application in 1:1 calls with a real SIP phone: headless Chromium (fake microphone)
//! runs the app served by the gateway (tests/browser/app_call_test.js), signs in as alice
//! through Kamailio, calls bob's baresip and is called by it (answering from the incoming
//! screen), with audio both ways each time (the page's getStats and baresip's RTP counters),
//! and a second sign-in with a wrong password shows "Registration failed: 401 Unauthorized".
//! Screenshots go to `target/test-output/sip_web_app/`. Same network rule as the other
//! browser tests.
mod common;

use common::browser::*;
use common::sip::*;
use common::Gateway;

#[test]
fn the_web_app_calls_baresip_and_answers_it() {
    loopback_only();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let bctl = shared_peers().join("baresip/bctl.py").display().to_string();
    let summary = run_driver(
        "app_call_test.js",
        &format!("http://{}", gw.addr),
        "sip_web_app",
        &[("BCTL", bctl)],
        || {
            format!(
                "--- baresip:\n{}\n--- gateway (tail):\n{}",
                tail(&bob.log(), 40),
                tail(&gw.log(), 80)
            )
        },
    );
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
