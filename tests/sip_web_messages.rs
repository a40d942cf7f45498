//! The web application's conversations with a SIP phone through Kamailio: a SIPp phone (bob)
//! sends alice a CPIM message, the app shows it unread, alice opens the conversation (the
//! phone receives the `displayed` IMDN after the `delivered` one), answers (the phone receives
//! her CPIM message), and the phone's display report turns her message's mark into "read"
//! (tests/browser/app_messages_test.js). Then contacts, typing indications both ways, and her
//! second device following the conversation (sent, deleted messages; the deleted
//! conversation). Screenshots go to `target/test-output/sip_web_messages/`.
mod common;

use std::sync::Arc;

use common::browser::*;
use common::sip::*;
use common::Gateway;

#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_chats_with_a_sip_phone() {
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    // The phone takes alice's delivered and displayed reports, her typing (two is-composing
    // indications, one per conversation opened: they are sent at most every 10 s) and her two
    // messages.
    let sink = Sink::start(6);
    let gw = Arc::new(Gateway::start(&["--sip-proxy", PROXY]));
    let base = format!("http://{}", gw.addr);
    let scenarios = repo().join("tests/sip").display().to_string();
    let log = gw.clone();
    let summary = tokio::task::spawn_blocking(move || {
        run_driver(
            "app_messages_test.js",
            &base,
            "sip_web_messages",
            &[("SCENARIOS", scenarios)],
            || format!("--- gateway (tail):\n{}", tail(&log.log(), 80)),
        )
    })
    .await
    .unwrap();
    assert_eq!(summary["badge"], "1", "{summary}");
    // Contacts, kept on the gateway and shared by alice's two devices.
    assert_eq!(
        summary["contacts_search"],
        serde_json::json!(["Carol (carol@127.0.0.1)"]),
        "{summary}"
    );
    assert_eq!(
        summary["contacts_team"],
        serde_json::json!(["Bob (bob@127.0.0.1) · Team"]),
        "{summary}"
    );
    assert_eq!(
        summary["contacts_after_delete"],
        serde_json::json!(["Bobby (bob@127.0.0.1) · Team"]),
        "{summary}"
    );
    assert_eq!(summary["contact_message"], "bob@127.0.0.1", "{summary}");
    assert_eq!(summary["typing"], "bob@127.0.0.1 is typing…", "{summary}");
    assert!(
        summary["synced_thread"]
            .as_array()
            .is_some_and(|t| t.iter().any(|m| m == "second message")),
        "{summary}"
    );
    assert_eq!(
        summary["files"],
        serde_json::json!(["dot.png", "dropped.txt", "pasted.txt"]),
        "{summary}"
    );
    assert_eq!(summary["upload_progress_hidden"], true, "{summary}");
    assert_eq!(
        summary["after_conversation_delete"]["here"],
        serde_json::json!([]),
        "{summary}"
    );
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
    // Her typing reached the phone as RFC 3994 is-composing in CPIM.
    assert!(
        got.iter()
            .any(|m| m.contains("application/im-iscomposing+xml")
                && m.contains("<state>active</state>")),
        "{got:#?}"
    );
}
