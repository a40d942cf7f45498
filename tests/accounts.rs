//! account-add / account-remove rules, per-connection isolation, and forgetting on close.
mod common;

use common::*;
use serde_json::{json, Value};

fn add(account: &str) -> Value {
    json!({"sylkrtc": "account-add", "account": account, "password": HA1, "display_name": "Alice", "user_agent": "test"})
}

#[tokio::test]
async fn add_and_remove_follow_the_spec() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    assert_eq!(
        c.request(add("sip:alice@example.com")).await["sylkrtc"],
        "ack"
    );
    // The sip: prefix is normalised away, so this is the same account.
    let m = c.request(add("alice@example.com")).await;
    assert_eq!(m["error"], "Account alice@example.com already added");
    let m = c
        .request(json!({"sylkrtc": "account-remove", "account": "bob@example.com"}))
        .await;
    assert_eq!(
        m["error"],
        "Unknown account specified for remove: bob@example.com"
    );
    let m = c
        .request(json!({"sylkrtc": "account-remove", "account": "sips:alice@example.com"}))
        .await;
    assert_eq!(m["sylkrtc"], "ack");
    let m = c
        .request(json!({"sylkrtc": "account-remove", "account": "alice@example.com"}))
        .await;
    assert_eq!(
        m["error"],
        "Unknown account specified for remove: alice@example.com"
    );
    // Added again after removal.
    assert_eq!(c.request(add("alice@example.com")).await["sylkrtc"], "ack");
}

#[tokio::test]
async fn sip_domains_are_enforced() {
    let gw = Gateway::start(&["--sip-domains", "example.com"]);
    let mut c = gw.ready_client().await;
    assert_eq!(c.request(add("alice@example.com")).await["sylkrtc"], "ack");
    let m = c.request(add("mallory@evil.org")).await;
    assert_eq!(m["error"], "SIP domain not allowed: evil.org");
    let m = c.request(add("example.com")).await;
    assert_eq!(m["error"], "SIP domain not allowed: ");
}

#[tokio::test]
async fn each_connection_has_its_own_accounts() {
    let gw = Gateway::start(&[]);
    let mut a = gw.ready_client().await;
    let mut b = gw.ready_client().await;
    assert_eq!(a.request(add("alice@example.com")).await["sylkrtc"], "ack");
    // b has not added alice: it cannot act on a's copy.
    for req in [
        json!({"sylkrtc": "account-remove", "account": "alice@example.com"}),
        json!({"sylkrtc": "account-register", "account": "alice@example.com"}),
        json!({"sylkrtc": "account-unregister", "account": "alice@example.com"}),
    ] {
        let m = b.request(req).await;
        assert_eq!(m["sylkrtc"], "error", "{m}");
        assert!(
            m["error"]
                .as_str()
                .unwrap()
                .starts_with("Unknown account specified"),
            "{m}"
        );
    }
    let m = b
        .request(json!({"sylkrtc": "session-create", "session": "s1", "account": "alice@example.com", "uri": "bob@example.com", "sdp": "v=0"}))
        .await;
    assert_eq!(m["error"], "Unknown account specified: alice@example.com");
    // b may add its own copy of the same account; removing it leaves a's.
    assert_eq!(b.request(add("alice@example.com")).await["sylkrtc"], "ack");
    assert_eq!(
        b.request(json!({"sylkrtc": "account-remove", "account": "alice@example.com"}))
            .await["sylkrtc"],
        "ack"
    );
    assert_eq!(
        a.request(add("alice@example.com")).await["error"],
        "Account alice@example.com already added"
    );
}

#[tokio::test]
async fn closing_a_connection_forgets_its_accounts() {
    let gw = Gateway::start(&[]);
    let mut a = gw.ready_client().await;
    assert_eq!(a.request(add("carol@example.com")).await["sylkrtc"], "ack");
    a.ws.close(None).await.unwrap();
    gw.wait_log("forgetting the connection's accounts");
    let mut b = gw.ready_client().await;
    assert_eq!(b.request(add("carol@example.com")).await["sylkrtc"], "ack");
}

#[tokio::test]
async fn requests_that_need_what_does_not_exist_yet_get_errors() {
    let gw = Gateway::start(&[]);
    let mut c = gw.ready_client().await;
    assert_eq!(c.request(add("alice@example.com")).await["sylkrtc"], "ack");
    let acct = "alice@example.com";
    // Messaging and addressbooks need an account that reached `registered`.
    for kind in [
        json!({"sylkrtc": "account-message", "account": acct, "uri": "bob@example.com", "message_id": "m1", "content": "hi", "content_type": "text/plain", "timestamp": "2026-07-17T08:41:52.123Z"}),
        json!({"sylkrtc": "account-disposition-notification", "account": acct, "uri": "bob@example.com", "message_id": "m1", "state": "delivered", "timestamp": "2026-07-17T08:41:52.123Z"}),
        json!({"sylkrtc": "account-sync-conversations", "account": acct, "message_id": null}),
        json!({"sylkrtc": "account-mark-conversation-read", "account": acct, "contact": "bob@example.com"}),
        json!({"sylkrtc": "account-remove-message", "account": acct, "message_id": "m1", "contact": "bob@example.com"}),
        json!({"sylkrtc": "account-remove-conversation", "account": acct, "contact": "bob@example.com"}),
        json!({"sylkrtc": "account-fetch-addressbook", "account": acct}),
    ] {
        let m = c.request(kind).await;
        assert_eq!(m["error"], "Account not authenticated", "{m}");
    }
    // Unknown sessions and room sessions.
    let m = c
        .request(json!({"sylkrtc": "session-answer", "session": "s9", "sdp": "v=0"}))
        .await;
    assert_eq!(m["error"], "Unknown session s9");
    let m = c
        .request(json!({"sylkrtc": "videoroom-leave", "session": "r9"}))
        .await;
    assert_eq!(m["error"], "Unknown room session: r9");
    // A device token is recorded for the next registration.
    let m = c
        .request(json!({"sylkrtc": "account-devicetoken", "account": acct, "token": "tok", "platform": "android", "device": "d1", "silent": false, "app": "com.example"}))
        .await;
    assert_eq!(m["sylkrtc"], "ack");
    // Calls work (tests/sip_calls.rs): an offer without media is refused before any SIP.
    let m = c
        .request(json!({"sylkrtc": "session-create", "session": "s1", "account": acct, "uri": "bob@example.com", "sdp": "v=0"}))
        .await;
    assert_eq!(m["error"], "Invalid SDP: no media in the SDP", "{m}");
    // lookup-public-key answers from the store (nothing stored: null), event before ack.
    c.send(&json!({"sylkrtc": "lookup-public-key", "uri": "bob@example.com", "transaction": "k1"}))
        .await;
    let event = c.recv().await.expect("lookup-public-key-event");
    assert_eq!(
        event,
        json!({"sylkrtc": "lookup-public-key-event", "uri": "bob@example.com", "public_key": null})
    );
    let ack = c.recv().await.expect("ack");
    assert_eq!(ack, json!({"sylkrtc": "ack", "transaction": "k1"}));
}

#[tokio::test]
async fn passwords_are_never_logged() {
    let gw = Gateway::start(&["--log-level", "trace"]);
    let mut c = gw.ready_client().await;
    let secret = "0123456789abcdef0123456789abcdef";
    let m = c
        .request(
            json!({"sylkrtc": "account-add", "account": "dave@example.com", "password": secret}),
        )
        .await;
    assert_eq!(m["sylkrtc"], "ack");
    let m = c
        .request(
            json!({"sylkrtc": "account-add", "account": "dave@example.com", "password": secret}),
        )
        .await;
    assert_eq!(m["sylkrtc"], "error");
    // A password of the wrong type is echoed to the client but not logged.
    let m = c
        .request(json!({"sylkrtc": "account-add", "account": "erin@example.com", "password": 987654321987u64}))
        .await;
    assert_eq!(
        m["error"],
        "Invalid value for 'password' property: 987654321987"
    );
    c.send(&json!({"sylkrtc": "account-add", "account": "erin@example.com", "password": [secret]}))
        .await;
    let log = gw.wait_log("already added");
    gw.wait_log("<redacted>");
    assert!(
        !log.contains("987654321987"),
        "a password appears in the log:\n{log}"
    );
    assert!(log.contains("added account"));
    assert!(
        !log.contains(secret),
        "the password appears in the log:\n{log}"
    );
}
