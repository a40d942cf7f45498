//! The web application in 1:1 calls with a real SIP phone: headless Chromium, and Firefox ESR
//! in the second test (fake microphone),
//! runs the app served by the gateway (tests/browser/app_call_test.js), signs in as alice
//! through Kamailio, calls bob's baresip and is called by it (answering from the incoming
//! screen), with audio both ways each time (the page's getStats and baresip's RTP counters),
//! keeps those calls in its history (IndexedDB, across a reload) and calls from it,
//! and a second sign-in with a wrong password shows "Registration failed: 401 Unauthorized".
//! Screenshots go to `target/test-output/sip_web_app/`. Same network rule as the other
//! browser tests.
mod common;

use common::browser::*;
use common::sip::*;
use common::Gateway;

#[test]
fn the_web_app_calls_baresip_and_answers_it() {
    calls_with("chromium", "sip_web_app");
}

/// The same in Firefox ESR (puppeteer-core over WebDriver BiDi).
#[test]
fn the_web_app_in_firefox_calls_baresip_and_answers_it() {
    require_firefox(&peers_tools());
    calls_with("firefox", "sip_web_app_firefox");
}

fn calls_with(browser: &str, shots: &str) {
    loopback_only();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let bctl = shared_peers().join("baresip/bctl.py").display().to_string();
    let env = [
        ("BCTL", bctl),
        ("BROWSER", browser.to_string()),
        ("FIREFOX", firefox().display().to_string()),
    ];
    let summary = run_driver(
        "app_call_test.js",
        &format!("http://{}", gw.addr),
        shots,
        &env,
        || {
            format!(
                "--- baresip:\n{}\n--- gateway (tail):\n{}",
                tail(&bob.log(), 40),
                tail(&gw.log(), 80)
            )
        },
    );
    assert_eq!(summary["outgoing"]["peer"], "bob@127.0.0.1", "{summary}");
    assert_eq!(summary["dialpad"], "12#", "{summary}");
    if summary["browser"] == "chromium" {
        // axe-core: no serious or critical violation on the in-call and incoming screens.
        assert_eq!(summary["axe_in_call"], serde_json::json!([]), "{summary}");
        assert_eq!(summary["axe_incoming"], serde_json::json!([]), "{summary}");
    }
    // The incoming call rang, and stopped when answered; Chromium (notifications allowed)
    // showed who calls.
    assert_eq!(summary["incoming"]["alert"]["ringing"], true, "{summary}");
    assert_eq!(
        summary["incoming"]["ringing_after_answer"], false,
        "{summary}"
    );
    if summary["browser"] == "chromium" {
        let shown = summary["incoming"]["alert"]["notifications"].to_string();
        assert!(shown.contains("Incoming call from"), "{summary}");
    }
    assert!(
        summary["invitation_joined"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "Alice")),
        "{summary}"
    );
    assert!(
        summary["missed"].as_array().is_some_and(|n| n
            .iter()
            .any(|t| t.as_str().unwrap_or("").starts_with("Missed call from"))),
        "{summary}"
    );
    assert!(
        summary["outgoing"]["quality"]
            .as_str()
            .unwrap()
            .starts_with("connection good"),
        "{summary}"
    );
    assert_eq!(summary["incoming"]["camera_off"], "true", "{summary}");
    // The statistics panel showed the codec (bob's baresip answers with Opus or G.711).
    let codec = summary["outgoing"]["stats_panel"]["codec"]
        .as_str()
        .unwrap_or("");
    assert!(["opus", "PCMA", "PCMU"].contains(&codec), "{summary}");
    // The call history: the calls in order with their outcomes (the driver waited for the
    // exact list), the missed one alone under its filter, kept across a reload, and a call
    // placed from it.
    assert_eq!(
        summary["missed_only"].as_array().map(|m| m.len()),
        Some(1),
        "{summary}"
    );
    assert!(
        summary["history_after_reload"].as_u64().unwrap_or(0) >= 6,
        "{summary}"
    );
    assert!(
        summary["call_from_contact"]["packetsReceived"]
            .as_u64()
            .unwrap_or(0)
            > 50,
        "{summary}"
    );
    assert!(
        summary["call_from_history"]["packetsReceived"]
            .as_u64()
            .unwrap_or(0)
            > 50,
        "{summary}"
    );
    assert_eq!(
        summary["outgoing"]["controls"]["mute"], "Unmute",
        "{summary}"
    );
    assert_eq!(
        summary["outgoing"]["controls"]["errors"],
        serde_json::json!([]),
        "{summary}"
    );
    assert_eq!(
        summary["rejected"], "Call ended: 404 Not Found",
        "{summary}"
    );
    // The phone saw alice's tones and her decline.
    let log = gw.log();
    assert!(
        log.contains("INFO answered"),
        "no DTMF INFO:\n{}",
        tail(&log, 40)
    );
    assert!(
        log.contains("486 Busy Here"),
        "no decline:\n{}",
        tail(&log, 40)
    );
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

/// A video call from the web app to bob's baresip with video: the screen shared in the call
/// (`Call.shareScreen`) replaces the camera's picture (another size), and stopping puts the
/// camera back (tests/browser/app_video_call_test.js).
#[test]
fn the_web_app_shares_the_screen_in_a_video_call() {
    loopback_only();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start_video("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let summary = run_driver(
        "app_video_call_test.js",
        &format!("http://{}", gw.addr),
        "sip_web_app_video",
        &[],
        || {
            format!(
                "--- baresip:\n{}\n--- gateway (tail):\n{}",
                tail(&bob.log(), 40),
                tail(&gw.log(), 60)
            )
        },
    );
    assert_ne!(
        summary["screen"]["width"], summary["camera"]["width"],
        "{summary}"
    );
    assert_eq!(summary["button_sharing"], "true", "{summary}");
    assert_eq!(
        summary["camera_again"]["width"], summary["camera"]["width"],
        "{summary}"
    );
    assert_eq!(summary["end"]["reason"], "200 to BYE", "{summary}");
}
