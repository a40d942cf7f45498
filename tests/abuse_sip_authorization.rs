//! Tried as an attacker would, with a real Kamailio 5.6 registrar/proxy, the real binary and
//! plain SIP sockets. Each test fails on the code before "Safe to expose":
//!
//! * a connection that adds an account with any password and never registers got that
//!   account's `sync` events and conference invitations;
//! * any host that could reach the SIP port could change a user's stored history (API
//!   messages, copies from the user's "SIP devices", IMDNs) or get an API token, and
//!   `sip_trusted_peers` trusted the Via's `received=`, which the sender writes;
//! * an INVITE for an account with device tokens woke its devices whoever sent it.
//!
//! Kamailio listens on a fixed port: nextest's `sip` group runs these one at a time.
mod common;

use std::time::Duration;

use common::messaging::*;
use common::sip::*;
use common::webrtc_peer::TestPeer;
use common::*;
use serde_json::{json, Value};

static PEERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BOB_HA1: &str = "229de414bb9576e58e059e37426cf68c";
const ROOM: &str = "private@videoconference.127.0.0.1";

fn error_text(m: &Value) -> String {
    assert_eq!(m["sylkrtc"], "error", "expected an error, got {m}");
    m["error"].as_str().unwrap().to_string()
}

/// Nothing for `account` reached `c`, beyond its own requests' answers.
fn nothing_private(c: &Client) {
    let private: Vec<&Value> = c
        .pending
        .iter()
        .filter(|m| m["sylkrtc"] == "account-event")
        .collect();
    assert!(private.is_empty(), "private events leaked: {private:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_events_go_only_where_the_account_is_authenticated() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut phone = gw.ready_client().await;
    add_and_register(&mut phone, ALICE, ALICE_HA1).await;
    let mut laptop = gw.ready_client().await;
    add_and_register(&mut laptop, ALICE, ALICE_HA1).await;
    // Mallory adds alice with a password she does not know, and never registers.
    let mut mallory = gw.ready_client().await;
    let ack = mallory
        .request(json!({"sylkrtc": "account-add", "account": ALICE, "password": WRONG_HA1}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");

    // alice sends from her phone: her laptop gets the `sync`, mallory nothing.
    assert_eq!(
        phone.request(message("m1", "hello")).await["sylkrtc"],
        "ack"
    );
    let sync = laptop.wait_for("sync", account_event("sync")).await;
    assert_eq!(sync["content"]["message_id"], "m1");
    // A message for alice: both her devices, not mallory's connection.
    let status = sip_udp(
        gw.sip_addr(),
        bob_message("alice", "message/cpim", &cpim("m2", "text/plain", "hi")),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    for c in [&mut phone, &mut laptop] {
        let m = c.wait_for("message", account_event("message")).await;
        assert_eq!(m["message_id"], "m2");
    }
    // Private requests are refused to her.
    for request in [
        json!({"sylkrtc": "account-sync-conversations", "account": ALICE}),
        json!({"sylkrtc": "account-fetch-addressbook", "account": ALICE}),
        json!({"sylkrtc": "account-mark-conversation-read", "account": ALICE, "contact": BOB}),
        message("m3", "in alice's name"),
    ] {
        let refused = mallory.request(request).await;
        assert_eq!(error_text(&refused), "Account not authenticated");
    }

    // bob, registered, invites alice to a room: her devices are told, mallory is not.
    let mut bob = gw.ready_client().await;
    add_and_register(&mut bob, BOB, BOB_HA1).await;
    let peer = TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let ack = bob
        .request(json!({"sylkrtc": "videoroom-join", "session": "bob-room", "account": BOB, "uri": ROOM, "sdp": offer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let ack = bob
        .request(
            json!({"sylkrtc": "videoroom-invite", "session": "bob-room", "participants": [ALICE]}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    for c in [&mut phone, &mut laptop] {
        let invite = c
            .wait_for("conference-invite", account_event("conference-invite"))
            .await;
        assert_eq!(invite["room"], ROOM);
        assert_eq!(invite["originator"]["uri"], BOB);
    }
    mallory.expect_silence(Duration::from_millis(500)).await;
    nothing_private(&mallory);
}

/// A MESSAGE from `from_ip` with `content_type`, its body, and extra header lines.
async fn message_from(
    gw: &Gateway,
    from_ip: &str,
    (from_user, to_user): (&str, &str),
    content_type: &str,
    body: &str,
    extra: &str,
) -> String {
    let (content_type, body, extra) = (
        content_type.to_string(),
        body.to_string(),
        extra.to_string(),
    );
    let (from_user, to_user) = (from_user.to_string(), to_user.to_string());
    let call_id = rand_id();
    sip_udp_from(from_ip, gw.sip_addr(), move |port| {
        format!(
            "MESSAGE sip:{to_user}@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from_ip}:{port};branch=z9hG4bK{call_id}{extra}\r\n\
             From: <sip:{from_user}@127.0.0.1>;tag=t{port}\r\nTo: <sip:{to_user}@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    })
    .await
}

fn imdn(id: &str) -> String {
    cpim(
        "r-1",
        "message/imdn+xml",
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\
             <message-id>{id}</message-id><datetime>2026-12-06T10:00:00Z</datetime>\
             <display-notification><status><displayed/></status></display-notification></imdn>"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_change_stored_data_are_taken_only_from_the_proxy() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    // A chat message kept in alice's history.
    let status = sip_udp(
        gw.sip_addr(),
        bob_message(
            "alice",
            "message/cpim",
            &cpim("kept", "text/plain", "hello"),
        ),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let before = sync(&mut c, None).await;

    // 127.0.0.2 is loopback, but not the proxy (127.0.0.1).
    let api = json!({"contact": BOB}).to_string();
    let forged_via = ";received=127.0.0.1";
    for (what, users, content_type, body, extra) in [
        (
            "conversation removal",
            ("alice", "bob"),
            "application/sylk-api-conversation-remove",
            api.as_str(),
            "",
        ),
        (
            "message removal",
            ("alice", "bob"),
            "application/sylk-api-message-remove",
            "kept",
            "",
        ),
        (
            "API token",
            ("alice", "alice"),
            "application/sylk-api-token",
            "",
            "",
        ),
        (
            "IMDN",
            ("bob", "alice"),
            "message/cpim",
            imdn("kept").as_str(),
            "",
        ),
        (
            "forged Via",
            ("alice", "bob"),
            "application/sylk-api-conversation-read",
            api.as_str(),
            forged_via,
        ),
    ] {
        let status = message_from(&gw, "127.0.0.2", users, content_type, body, extra).await;
        assert!(status.starts_with("SIP/2.0 403"), "{what}: {status}");
    }
    // A copy "from one of alice's SIP devices" in her name.
    let status = message_from(
        &gw,
        "127.0.0.2",
        ("alice", "bob"),
        "text/plain",
        "I owe mallory 1000",
        "\r\nX-Sylk-From-Sip: yes",
    )
    .await;
    assert!(status.starts_with("SIP/2.0 403"), "copy: {status}");
    let after = sync(&mut c, None).await;
    assert_eq!(after, before, "the stored history changed");
    gw.wait_log("MESSAGE that would change stored data refused");

    // An ordinary chat message from anywhere is delivered (as through any proxy).
    let status = message_from(
        &gw,
        "127.0.0.2",
        ("bob", "alice"),
        "message/cpim",
        &cpim("from-far", "text/plain", "hi"),
        "",
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    c.wait_for("message", account_event("message")).await;
    // From the proxy's address, the API is served.
    let status = message_from(
        &gw,
        "127.0.0.1",
        ("alice", "bob"),
        "application/sylk-api-conversation-remove",
        &api,
        "",
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_from_an_untrusted_source_wakes_no_device() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (push, mut pushed) = push_server(vec![200]).await;
    let url = format!("http://{push}/push");
    let gw = Gateway::start(&["--sip-proxy", PROXY, "--push-url", &url]);
    let mut c = gw.ready_client().await;
    let ack = c
        .request(json!({"sylkrtc": "account-add", "account": ALICE, "password": ALICE_HA1}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    let ack = c
        .request(
            json!({"sylkrtc": "account-devicetoken", "account": ALICE, "token": "tok",
                        "platform": "android", "device": "d1", "silent": false, "app": "a"}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    let ack = c
        .request(json!({"sylkrtc": "account-register", "account": ALICE}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    c.wait_for("registered", |m| m["state"] == "registered")
        .await;
    drop(c);
    gw.wait_log("unregistering the connection's accounts");

    let invite = |call_id: &'static str, ip: &'static str| {
        move |port: u16| {
            let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
            format!(
                "INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{call_id}\r\n\
                 From: \"Bob\" <sip:bob@127.0.0.1>;tag=c1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: {call_id}\r\n\
                 CSeq: 1 INVITE\r\nContact: <sip:bob@{ip}:{port}>\r\nMax-Forwards: 70\r\n\
                 Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            )
        }
    };
    let status = sip_udp_from("127.0.0.2", gw.sip_addr(), invite("untrusted", "127.0.0.2")).await;
    assert!(status.starts_with("SIP/2.0 404"), "{status}");
    let none = tokio::time::timeout(Duration::from_millis(700), pushed.recv()).await;
    assert!(none.is_err(), "an untrusted INVITE pushed: {none:?}");
    // The proxy's fork of a call does wake alice's device.
    let status = sip_udp(gw.sip_addr(), invite("from-proxy", "127.0.0.1")).await;
    assert!(status.starts_with("SIP/2.0 404"), "{status}");
    let body = tokio::time::timeout(WAIT, pushed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["call-id"], "from-proxy");
}
