//! Messaging through a real Kamailio 5.6 and real SIPp phones (issue 5):
//!
//! * web -> SIP: `account-message` becomes a CPIM MESSAGE (checked on the wire at the phone:
//!   CPIM From/To, imdn.Message-ID, imdn.Disposition-Notification, inner Content-Type and
//!   text), `disposition-notification` accepted; the phone's IMDN delivery and display reports
//!   come back as `disposition-notification` delivered/displayed; SIP -> web: the phone's CPIM
//!   message becomes `account-event message` on both of the account's connections, and
//!   `account-disposition-notification` sends the IMDN the phone receives;
//! * two connections of one account: `sync` message/add, conversation/read, message/remove;
//! * a 407 from the proxy to a MESSAGE is answered from the HA1;
//! * offline: messages for an account with no connection are stored and come back in order
//!   with `account-sync-conversations`, also after a gateway restart;
//! * durability: SIGKILL right after the ack of `account-message` and right after the 200 to
//!   an incoming MESSAGE, 20 times: both are in the journal after the restart;
//! * the history API for SIP devices with the token obtained by MESSAGE; 401 otherwise;
//! * bad input over SIP and over the WebSocket: clear error or ignored, nothing stored half.
//!
//! Same fixed ports as the other `sip_*` tests (peers.md §8): nextest's `sip` group runs them
//! one at a time and a static lock serialises the tests of this binary.
mod common;

use std::path::Path;
use std::time::Duration;

use common::messaging::*;
use common::sip::*;
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static PEERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn disposition(c: &mut Client, id: &str, state: &str) -> Value {
    c.wait_for(&format!("disposition {state} of {id}"), |m| {
        m["event"] == "disposition-notification" && m["message_id"] == id && m["state"] == state
    })
    .await
}

fn ids(journal: &[Value]) -> Vec<&str> {
    journal
        .iter()
        .map(|e| e["message_id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn web_and_sip_phone_exchange_messages_and_reports() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut a = gw.ready_client().await;
    let mut b = gw.ready_client().await;
    add_and_register(&mut a, ALICE, ALICE_HA1).await;
    add_and_register(&mut b, ALICE, ALICE_HA1).await;
    // The phone takes alice's message and later her delivery report.
    let sink = Sink::start(2);

    // web -> SIP, seen by the other connection as sync.
    let ack = a.request(message("web1", "hello bob")).await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let add = b.wait_for("sync add", account_event("sync")).await;
    assert_eq!(
        (add["type"].as_str(), add["action"].as_str()),
        (Some("message"), Some("add"))
    );
    assert_eq!(add["content"]["sylkrtc"], "account-message", "{add}");
    assert_eq!(add["content"]["message_id"], "web1", "{add}");
    assert_eq!(add["content"]["content"], "hello bob", "{add}");
    for c in [&mut a, &mut b] {
        let d = disposition(c, "web1", "accepted").await;
        assert_eq!(d["code"], 200, "{d}");
        assert_eq!(d["message_timestamp"], "2026-11-22T09:00:00.000Z", "{d}");
    }

    // The phone reports delivery and display.
    for (status, notification) in [
        ("delivered", "delivery-notification"),
        ("displayed", "display-notification"),
    ] {
        bob_sends(
            KAMAILIO_ADDR,
            "uac_imdn.xml",
            "alice",
            &[
                ("msgid", "web1"),
                ("status", status),
                ("notification", notification),
            ],
            1,
        )
        .await;
        for c in [&mut a, &mut b] {
            let d = disposition(c, "web1", status).await;
            assert_eq!(
                (d["code"].as_i64(), d["reason"].as_str()),
                (Some(200), Some("")),
                "{d}"
            );
        }
    }

    // SIP -> web: both connections get the message.
    bob_sends(
        KAMAILIO_ADDR,
        "uac_message_cpim.xml",
        "alice",
        &[("msgid", "sip"), ("text", "hello alice")],
        1,
    )
    .await;
    for c in [&mut a, &mut b] {
        let m = c.wait_for("message", account_event("message")).await;
        assert_eq!(m["account"], ALICE, "{m}");
        assert_eq!(
            m["sender"],
            json!({"uri": BOB, "display_name": "Bob"}),
            "{m}"
        );
        assert_eq!(m["message_id"], "sip1", "{m}");
        // SIPp ends every body with a line break; the gateway keeps content as it came.
        assert_eq!(m["content"], "hello alice 1\r\n", "{m}");
        assert_eq!(m["content_type"], "text/plain", "{m}");
        assert_eq!(m["timestamp"], "2026-11-22T10:00:01.000Z", "{m}");
        assert_eq!(
            m["disposition_notification"],
            json!(["positive-delivery", "display"]),
            "{m}"
        );
    }
    let ack = a
        .request(
            json!({"sylkrtc": "account-disposition-notification", "account": ALICE,
                        "uri": BOB, "message_id": "sip1", "state": "delivered",
                        "timestamp": "2026-11-22T10:00:01.000Z"}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");

    // What the phone got, on the wire.
    let got = sink.received().await;
    assert_eq!(got.len(), 2, "{got:#?}");
    let (head, chat) = got[0].split_once("\r\n\r\n").unwrap();
    assert!(
        line(head, "Content-Type:").ends_with("message/cpim"),
        "{head}"
    );
    assert_eq!(
        line(chat, "From: <sip:alice"),
        "From: <sip:alice@127.0.0.1>",
        "{chat}"
    );
    assert_eq!(
        line(chat, "To: <sip:bob"),
        "To: <sip:bob@127.0.0.1>",
        "{chat}"
    );
    assert_eq!(
        line(chat, "NS:"),
        "NS: imdn <urn:ietf:params:imdn>",
        "{chat}"
    );
    assert_eq!(
        line(chat, "imdn.Message-ID:"),
        "imdn.Message-ID: web1",
        "{chat}"
    );
    assert_eq!(
        line(chat, "imdn.Disposition-Notification:"),
        "imdn.Disposition-Notification: positive-delivery, display",
        "{chat}"
    );
    assert_eq!(
        line(chat, "DateTime:"),
        "DateTime: 2026-11-22T09:00:00.000Z",
        "{chat}"
    );
    assert!(
        chat.contains("Content-Type: text/plain\r\n\r\nhello bob"),
        "{chat}"
    );
    let report = &got[1];
    assert!(
        report.contains("Content-Type: message/imdn+xml"),
        "{report}"
    );
    assert!(
        !report.contains("imdn.Disposition-Notification"),
        "{report}"
    );
    assert!(report.contains("<message-id>sip1</message-id>"), "{report}");
    assert!(
        report.contains("<delivery-notification><status><delivered/>"),
        "{report}"
    );
    assert!(
        report.contains("<datetime>2026-11-22T10:00:01.000Z</datetime>"),
        "{report}"
    );

    // The journal has it all, oldest first.
    let journal = sync(&mut a, None).await;
    let web1 = journal.iter().find(|e| e["message_id"] == "web1").unwrap();
    assert_eq!(web1["direction"], "outgoing", "{web1}");
    assert_eq!(web1["state"], "displayed", "{web1}");
    assert_eq!(web1["disposition"], json!([]), "{web1}");
    assert_eq!(web1["contact"], BOB, "{web1}");
    let sip1 = journal.iter().find(|e| e["message_id"] == "sip1").unwrap();
    assert_eq!(sip1["direction"], "incoming", "{sip1}");
    assert_eq!(sip1["state"], "delivered", "{sip1}");
    assert_eq!(sip1["disposition"], json!(["display"]), "{sip1}");
    let reports: Vec<&Value> = journal
        .iter()
        .filter(|e| e["content_type"] == "message/imdn")
        .collect();
    assert_eq!(reports.len(), 2, "{journal:#?}");
    let data: Value = serde_json::from_str(reports[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(data["state"], "displayed");
    assert_eq!(data["message_id"], "web1");
    let order = ids(&journal);
    let pos = |id: &str| order.iter().position(|x| *x == id).unwrap();
    assert!(pos("web1") < pos("sip1"), "{order:?}");

    // Read and remove replicate to the other connection.
    let ack = b
        .request(
            json!({"sylkrtc": "account-mark-conversation-read", "account": ALICE, "contact": BOB}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let read = a.wait_for("sync read", account_event("sync")).await;
    assert_eq!(
        (read["type"].as_str(), read["action"].as_str()),
        (Some("conversation"), Some("read"))
    );
    assert_eq!(read["content"], json!({"contact": BOB}));
    let ack = a
        .request(
            json!({"sylkrtc": "account-remove-message", "account": ALICE,
                        "message_id": "web1", "contact": BOB}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let removed = b.wait_for("sync remove", account_event("sync")).await;
    assert_eq!(
        (removed["type"].as_str(), removed["action"].as_str()),
        (Some("message"), Some("remove"))
    );
    assert_eq!(
        removed["content"],
        json!({"contact": BOB, "message_id": "web1", "direction": "outgoing"})
    );
    let journal = sync(&mut b, None).await;
    assert!(!ids(&journal).contains(&"web1"), "{journal:#?}");
    assert!(
        journal
            .iter()
            .all(|e| e["message_id"] != "sip1" || e["disposition"] == json!([])),
        "{journal:#?}"
    );
    let kinds: Vec<&str> = journal
        .iter()
        .map(|e| e["content_type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"application/sylk-conversation-read"),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"application/sylk-message-remove"),
        "{kinds:?}"
    );
    let ack = a
        .request(
            json!({"sylkrtc": "account-remove-conversation", "account": ALICE, "contact": BOB}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let removed = b
        .wait_for("sync conversation remove", account_event("sync"))
        .await;
    assert_eq!(
        (removed["type"].as_str(), removed["action"].as_str()),
        (Some("conversation"), Some("remove"))
    );
    assert_eq!(removed["content"]["contact"], BOB);
    let journal = sync(&mut b, None).await;
    assert!(
        journal.iter().all(|e| e["direction"] == ""),
        "only read/remove notes are left: {journal:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_challenge_to_a_message_is_answered_from_the_ha1() {
    let _peers = PEERS.lock().await;
    let kamailio = Kamailio::start(&["-A", "WITH_PROXY_AUTH"]);
    register_bob().await;
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    let sink = Sink::start(1);
    let ack = c.request(message("auth1", "through the 407")).await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let d = disposition(&mut c, "auth1", "accepted").await;
    assert_eq!(d["code"], 200, "{d}");
    let got = sink.received().await;
    assert!(got[0].contains("through the 407"), "{got:?}");
    // Challenged once (407), then relayed with the credentials computed from the HA1.
    // (Kamailio's log is read by a thread: wait for the lines.)
    let deadline = std::time::Instant::now() + WAIT;
    let attempts = |log: &str| log.matches("REQ MESSAGE sip:bob@127.0.0.1").count();
    while attempts(&kamailio.log()) < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = kamailio.log();
    assert_eq!(attempts(&log), 2, "two attempts through the proxy:\n{log}");
}

/// alice registers once (known to storage), then goes away.
async fn alice_known(gw: &Gateway) {
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    c.ws.close(None).await.unwrap();
    gw.wait_log("unregistering the connection's accounts");
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_messages_come_back_in_order_also_after_a_restart() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let args = ["--no-tls", "--sip-proxy", PROXY];
    let mut gw = Gateway::start_with(&args, Some(dir.path().to_path_buf()), &[]);
    alice_known(&gw).await;
    // No connection holds alice: the proxy forks bob's messages to the gateway.
    let target = gw.sip_addr().to_string();
    bob_sends(
        &target,
        "uac_message_cpim.xml",
        "alice",
        &[("msgid", "off"), ("text", "while away")],
        3,
    )
    .await;

    let expect = ["off1", "off2", "off3"];
    let check = |journal: &[Value]| {
        assert_eq!(ids(journal), expect, "{journal:#?}");
        for (i, e) in journal.iter().enumerate() {
            assert_eq!(e["content"], format!("while away {}\r\n", i + 1), "{e}");
            assert_eq!(e["direction"], "incoming");
            assert_eq!(e["state"], "received");
            assert_eq!(e["contact"], BOB);
        }
    };
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    check(&sync(&mut c, None).await);
    // From a known id on, only what came after it.
    assert_eq!(ids(&sync(&mut c, Some("off1")).await), ["off2", "off3"]);
    drop(c);
    assert!(gw.terminate().success());

    let gw = Gateway::start_with(&args, Some(dir.path().to_path_buf()), &[]);
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    check(&sync(&mut c, None).await);
}

/// One SIP request over UDP straight to `to`; returns the final response's status line.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_messages_survive_sigkill_twenty_times() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let args = ["--no-tls", "--sip-proxy", PROXY];
    let start = |dir: &Path| Gateway::start_with(&args, Some(dir.to_path_buf()), &[]);
    for round in 1..=20 {
        // account-message: SIGKILL as soon as the ack is read.
        let mut gw = start(dir.path());
        let mut c = gw.ready_client().await;
        add_and_register(&mut c, ALICE, ALICE_HA1).await;
        let out = format!("out-{round}");
        let ack = c.request(message(&out, "acked then killed")).await;
        assert_eq!(ack["sylkrtc"], "ack", "{ack}");
        gw.stop();

        // An incoming MESSAGE: SIGKILL as soon as its 200 arrives.
        let mut gw = start(dir.path());
        let incoming = format!("in-{round}");
        let status = sip_udp(
            gw.sip_addr(),
            bob_message(
                "alice",
                "message/cpim",
                &cpim(&incoming, "text/plain", "answered then killed"),
            ),
        )
        .await;
        assert_eq!(status, "SIP/2.0 200 OK");
        gw.stop();

        let gw = start(dir.path());
        let mut c = gw.ready_client().await;
        add_and_register(&mut c, ALICE, ALICE_HA1).await;
        let journal = sync(&mut c, None).await;
        let have = ids(&journal);
        assert!(
            have.contains(&out.as_str()),
            "round {round}: {out} lost: {have:?}"
        );
        assert!(
            have.contains(&incoming.as_str()),
            "round {round}: {incoming} lost: {have:?}"
        );
        assert_eq!(journal.len(), 2 * round, "round {round}: {have:?}");
    }
}

/// `GET path` with an optional `Authorization`; (status, body).
async fn get(gw: &Gateway, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(a) = authorization {
        request.push_str(&format!("Authorization: {a}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn history_api_with_the_token_from_a_sip_message() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let target = gw.sip_addr().to_string();
    // bob's phone asks for a token; it comes back by MESSAGE to bob's registered contact.
    let sink = Sink::start(1);
    bob_sends(&target, "uac_api_token.xml", "bob", &[], 1).await;
    let got = sink.received().await;
    assert!(
        got[0].contains("Content-Type: application/sylk-api-token"),
        "{got:?}"
    );
    let body = &got[0][got[0].find("\r\n\r\n").unwrap() + 4..];
    let reply: Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    let token = reply["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32, "{reply}");
    let url = reply["url"].as_str().unwrap();
    assert!(
        url.ends_with("/webrtcgateway/messages/history/bob@127.0.0.1"),
        "{url}"
    );
    let path = &url[url.find("/webrtcgateway").unwrap()..];

    // Two messages for bob reach the gateway (bob is known to storage now).
    for (id, text) in [("h1", "first"), ("h2", "second")] {
        let status = sip_udp(
            gw.sip_addr(),
            bob_message("bob", "message/cpim", &cpim(id, "text/plain", text)),
        )
        .await;
        assert_eq!(status, "SIP/2.0 200 OK");
    }
    let (status, body) = get(&gw, path, Some(&format!("Apikey {token}"))).await;
    assert_eq!(status, 200, "{body}");
    let history: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(history["account"], BOB);
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(ids(messages), ["h1", "h2"], "{history}");
    assert_eq!(messages[0]["content"], "first");
    assert_eq!(messages[0]["direction"], "incoming");
    let (status, body) = get(&gw, &format!("{path}/h1"), Some(&format!("Apikey {token}"))).await;
    assert_eq!(status, 200, "{body}");
    let after: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ids(after["messages"].as_array().unwrap()), ["h2"]);

    for auth in [None, Some("Apikey wrong"), Some(token.as_str())] {
        let (status, body) = get(&gw, path, auth).await;
        assert_eq!((status, body.as_str()), (401, "Unauthorized"), "{auth:?}");
    }
    // A good token for another account.
    let (status, _) = get(
        &gw,
        "/webrtcgateway/messages/history/alice@127.0.0.1",
        Some(&format!("Apikey {token}")),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_messages_get_clear_errors_and_store_nothing() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    // Frames large enough for a message over the SIP size limit.
    let gw = Gateway::start(&["--sip-proxy", PROXY, "--max-frame-size", "262144"]);
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    let sip = gw.sip_addr();

    let cases: Vec<(&str, String, String, &str)> = vec![
        ("malformed CPIM", "message/cpim".into(), "no headers and no body".into(), "SIP/2.0 400"),
        ("CPIM without an inner type", "message/cpim".into(), "From: <sip:bob@127.0.0.1>\r\n\r\nhello".into(), "SIP/2.0 400"),
        ("garbage IMDN", "message/cpim".into(), cpim("r1", "message/imdn+xml", "<imdn>nonsense"), "SIP/2.0 400"),
        ("IMDN for an unknown message", "message/cpim".into(),
            cpim("r2", "message/imdn+xml", "<imdn><message-id>nope</message-id><delivery-notification><status><delivered/></status></delivery-notification></imdn>"),
            "SIP/2.0 200"),
        ("for an unknown account", "text/plain".into(), "hi".into(), "SIP/2.0 404"),
    ];
    for (what, content_type, body, expected) in &cases {
        let to = if *what == "for an unknown account" {
            "nobody"
        } else {
            "alice"
        };
        let status = sip_udp(sip, bob_message(to, content_type, body)).await;
        assert!(status.starts_with(expected), "{what}: {status}");
    }
    // Not UTF-8 text.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let mut raw = format!(
        "MESSAGE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKraw\r\n\
         From: <sip:bob@127.0.0.1>;tag=r\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: raw\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe, 0x80]);
    socket.send_to(&raw, sip).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let status = String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(status.starts_with("SIP/2.0 415"), "{status}");
    // Oversized, over TCP (UDP cannot carry it).
    let big = "x".repeat(70 * 1024);
    let mut tcp = tokio::net::TcpStream::connect(sip).await.unwrap();
    let local = tcp.local_addr().unwrap().port();
    let request = format!(
        "MESSAGE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{local};branch=z9hG4bKbig\r\n\
         From: <sip:bob@127.0.0.1>;tag=g\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: big\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, tcp.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let status = String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(status.starts_with("SIP/2.0 413"), "{status}");

    // A good one after all that, and a duplicate of it (ignored).
    for _ in 0..2 {
        let status = sip_udp(
            sip,
            bob_message("alice", "message/cpim", &cpim("good", "text/plain", "fine")),
        )
        .await;
        assert_eq!(status, "SIP/2.0 200 OK");
    }
    let m = c
        .wait_for("the good message", account_event("message"))
        .await;
    assert_eq!(m["message_id"], "good", "{m}");
    c.expect_silence(Duration::from_millis(300)).await;
    let journal = sync(&mut c, None).await;
    assert_eq!(
        ids(&journal),
        ["good"],
        "only the good message is stored: {journal:#?}"
    );

    // Over the WebSocket.
    let cases = [
        (
            json!({"content": "x".repeat(70 * 1024)}),
            "Message too large",
        ),
        (
            json!({"content_type": "application/sylk-contact-update", "content": "\u{263a}"}),
            "Internal error",
        ),
        (
            json!({"account": "carol@127.0.0.1"}),
            "Unknown account specified: carol@127.0.0.1",
        ),
    ];
    for (patch, error) in cases {
        let mut request = message("bad", "x");
        for (k, v) in patch.as_object().unwrap() {
            request[k] = v.clone();
        }
        let answer = c.request(request).await;
        assert_eq!(answer["sylkrtc"], "error", "{answer}");
        assert!(
            answer["error"].as_str().unwrap().starts_with(error),
            "{answer}"
        );
    }
    let answer = c
        .request(
            json!({"sylkrtc": "account-disposition-notification", "account": ALICE, "uri": BOB,
                        "message_id": "good", "state": "failed", "timestamp": "t"}),
        )
        .await;
    assert_eq!(
        (answer["sylkrtc"].as_str(), answer["error"].as_str()),
        (Some("error"), Some("Internal error"))
    );
    let answer = c
        .request(json!({"sylkrtc": "account-sync-conversations", "account": ALICE, "since": "yesterday"}))
        .await;
    assert_eq!(
        answer["error"], "Invalid since timestamp: yesterday",
        "{answer}"
    );
    let journal = sync(&mut c, None).await;
    assert_eq!(
        ids(&journal),
        ["good"],
        "nothing stored by the refused requests: {journal:#?}"
    );
    assert_eq!(
        journal[0]["state"], "received",
        "the failed report changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_from_untrusted_sources_are_refused() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY, "--sip-trusted-peer", "10.255.0.0/16"]);
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    // The proxy (127.0.0.1) stays trusted; 127.0.0.2 is neither it nor a configured peer.
    let status = sip_udp_from(
        "127.0.0.2",
        gw.sip_addr(),
        bob_message("alice", "text/plain", "let me in"),
    )
    .await;
    assert!(status.starts_with("SIP/2.0 403"), "{status}");
    let journal = sync(&mut c, None).await;
    assert!(journal.is_empty(), "{journal:#?}");
}

async fn lookup(c: &mut Client, uri: &str) -> Value {
    c.send(&json!({"sylkrtc": "lookup-public-key", "uri": uri, "transaction": rand_id()}))
        .await;
    let event = c
        .wait_for("lookup-public-key-event", |m| {
            m["sylkrtc"] == "lookup-public-key-event"
        })
        .await;
    event["public_key"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn public_keys_in_messages_are_kept_for_lookup() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    assert_eq!(lookup(&mut c, ALICE).await, Value::Null);
    // alice's own key goes out in a message; bob's comes in.
    let mut own = message("k1", "-----BEGIN PGP PUBLIC KEY BLOCK-----alice");
    own["content_type"] = json!("text/pgp-public-key");
    assert_eq!(c.request(own).await["sylkrtc"], "ack");
    let status = sip_udp(
        gw.sip_addr(),
        bob_message(
            "alice",
            "message/cpim",
            &cpim(
                "k2",
                "text/pgp-public-key",
                "-----BEGIN PGP PUBLIC KEY BLOCK-----bob",
            ),
        ),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    assert_eq!(
        lookup(&mut c, ALICE).await,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----alice"
    );
    assert_eq!(
        lookup(&mut c, BOB).await,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----bob"
    );
    // A private key is sent but never stored.
    let mut private = message("k3", "-----BEGIN PGP PRIVATE KEY BLOCK-----");
    private["content_type"] = json!("text/pgp-private-key");
    assert_eq!(c.request(private).await["sylkrtc"], "ack");
    let journal = sync(&mut c, None).await;
    assert_eq!(ids(&journal), ["k1", "k2"], "{journal:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn addressbooks_are_kept_and_replicated() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut a = gw.ready_client().await;
    let mut b = gw.ready_client().await;
    add_and_register(&mut a, ALICE, ALICE_HA1).await;
    add_and_register(&mut b, ALICE, ALICE_HA1).await;
    let fetch = json!({"sylkrtc": "account-fetch-addressbook", "account": ALICE});
    assert_eq!(a.request(fetch.clone()).await["sylkrtc"], "ack");
    let book = a
        .wait_for("fetched", account_event("addressbook-fetched"))
        .await;
    assert_eq!(
        book["addressbook"],
        json!({"contacts": [], "groups": [], "policies": []})
    );

    let contact = json!({"id": "c1", "name": "Bob", "uris": [{"id": "u1", "uri": BOB}],
                         "dialog": {"policy": "default", "subscribe": false},
                         "presence": {"policy": "default", "subscribe": false}});
    let update = |action: &str, data: &Value| {
        json!({"sylkrtc": "account-update-addressbook", "account": ALICE, "action": action,
               "type": "contact", "data": data})
    };
    assert_eq!(a.request(update("add", &contact)).await["sylkrtc"], "ack");
    for c in [&mut a, &mut b] {
        let e = c
            .wait_for("updated", account_event("addressbook-updated"))
            .await;
        assert_eq!(
            (e["type"].as_str(), e["action"].as_str()),
            (Some("contact"), Some("add"))
        );
        assert_eq!(e["contact"]["name"], "Bob");
        assert_eq!(e["contact"]["defaultUri"]["uri"], BOB, "{e}");
    }
    // Adding it again fails, on this connection only, and changes nothing.
    assert_eq!(a.request(update("add", &contact)).await["sylkrtc"], "ack");
    let e = a
        .wait_for("failed", account_event("addressbook-update-failed"))
        .await;
    assert_eq!(e["error"], "Contact c1 already exists", "{e}");
    assert_eq!(e["id"], "c1");
    b.expect_silence(Duration::from_millis(200)).await;
    let mut renamed = contact.clone();
    renamed["name"] = json!("Robert");
    assert_eq!(
        a.request(update("update", &renamed)).await["sylkrtc"],
        "ack"
    );
    a.wait_for("updated", account_event("addressbook-updated"))
        .await;
    assert_eq!(b.request(fetch.clone()).await["sylkrtc"], "ack");
    let book = b
        .wait_for("fetched", account_event("addressbook-fetched"))
        .await;
    let contacts = book["addressbook"]["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1, "{book}");
    assert_eq!(contacts[0]["name"], "Robert");
    let missing = json!({"id": "c9", "name": "X", "uris": [],
                         "dialog": {"policy": "default", "subscribe": false},
                         "presence": {"policy": "default", "subscribe": false}});
    assert_eq!(
        a.request(update("delete", &missing)).await["sylkrtc"],
        "ack"
    );
    let e = a
        .wait_for("failed", account_event("addressbook-update-failed"))
        .await;
    assert_eq!(e["error"], "Contact c9 not found", "{e}");
}

/// A push server: each POST body goes to the channel; the n-th request gets `statuses[n]`.
#[tokio::test(flavor = "multi_thread")]
async fn messages_and_calls_for_an_offline_account_are_pushed_to_its_devices() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (push, mut pushed) = push_server(vec![200, 200, 410]).await;
    let url = format!("http://{push}/push");
    let gw = Gateway::start(&["--sip-proxy", PROXY, "--push-url", &url]);
    let mut c = gw.ready_client().await;
    let ack = c
        .request(json!({"sylkrtc": "account-add", "account": ALICE, "password": ALICE_HA1}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    let ack = c
        .request(
            json!({"sylkrtc": "account-devicetoken", "account": ALICE, "token": "tok-1",
                        "platform": "android", "device": "d1", "silent": false,
                        "app": "com.example.sylk"}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    let ack = c
        .request(json!({"sylkrtc": "account-register", "account": ALICE}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    c.wait_for("registered", |m| m["state"] == "registered")
        .await;
    // While a connection holds the account, no push.
    let status = sip_udp(
        gw.sip_addr(),
        bob_message("alice", "message/cpim", &cpim("p0", "text/plain", "live")),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    c.wait_for("live message", account_event("message")).await;
    c.ws.close(None).await.unwrap();
    gw.wait_log("unregistering the connection's accounts");

    let expect_message = |id: &str, text: &str, badge: u32| {
        json!({"event": "message", "media-type": "sms", "from": BOB,
               "from-display-name": null, "to": ALICE, "content-type": "text/plain",
               "content": text, "badge": badge, "message-id": id,
               "token": "tok-1", "app-id": "com.example.sylk", "platform": "android",
               "device-id": "d1", "silent": false})
    };
    let status = sip_udp(
        gw.sip_addr(),
        bob_message(
            "alice",
            "message/cpim",
            &cpim("p1", "text/plain", "are you there?"),
        ),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let body = tokio::time::timeout(WAIT, pushed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, expect_message("p1", "are you there?", 2));

    // A call the proxy forks to the gateway for alice, who has no connection: pushed too.
    let status = sip_udp(gw.sip_addr(), |port| {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 16000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        format!(
            "INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKcall\r\n\
             From: \"Bob\" <sip:bob@127.0.0.1>;tag=c1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: push-call-1\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    })
    .await;
    assert!(
        status.starts_with("SIP/2.0 404"),
        "no connection takes it: {status}"
    );
    let body = tokio::time::timeout(WAIT, pushed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        body,
        json!({"event": "incoming_session", "from": BOB, "from-display-name": "Bob", "to": ALICE,
               "call-id": "push-call-1", "media-type": "audio", "account": ALICE,
               "token": "tok-1", "app-id": "com.example.sylk", "platform": "android",
               "device-id": "d1", "silent": false})
    );

    // The next push gets 410: the token is removed, so the message after it pushes nothing
    // (the server would fail the test on a fourth request).
    let status = sip_udp(
        gw.sip_addr(),
        bob_message("alice", "message/cpim", &cpim("p2", "text/plain", "hello?")),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let body = tokio::time::timeout(WAIT, pushed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, expect_message("p2", "hello?", 3));
    gw.wait_log("push token gone (410): removed");
    let status = sip_udp(
        gw.sip_addr(),
        bob_message("alice", "message/cpim", &cpim("p3", "text/plain", "bye")),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let none = tokio::time::timeout(Duration::from_millis(500), pushed.recv()).await;
    assert!(
        matches!(none, Err(_) | Ok(None)),
        "no push without a token: {none:?}"
    );
    assert!(!gw.log().contains("push failed"), "{}", gw.log());
}

fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn file_transfer_upload_download_and_access_rules() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut a = gw.ready_client().await;
    let mut a2 = gw.ready_client().await;
    let mut b = gw.ready_client().await;
    add_and_register(&mut a, ALICE, ALICE_HA1).await;
    add_and_register(&mut a2, ALICE, ALICE_HA1).await;
    add_and_register(&mut b, BOB, "229de414bb9576e58e059e37426cf68c").await;

    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let upload = format!("/webrtcgateway/filetransfer/{ALICE}/{BOB}/t1/photo.jpg");
    let (status, _, body) = http(&gw, "POST", &upload, "image/jpeg", &data).await;
    assert_eq!((status, body.as_slice()), (200, &b"OK"[..]));

    // The receiver gets the announcement, the sender's connections a sync copy.
    let m = b.wait_for("file message", account_event("message")).await;
    assert_eq!(m["content_type"], "application/sylk-file-transfer");
    assert_eq!(m["message_id"], "t1");
    assert_eq!(m["sender"]["uri"], ALICE);
    let file: Value = serde_json::from_str(m["content"].as_str().unwrap()).unwrap();
    assert_eq!(file["filename"], "photo.jpg");
    assert_eq!(file["filesize"], data.len());
    assert_eq!(file["filetype"], "image/jpeg");
    assert_eq!(file["hash"], sha1_hex(&data), "{file}");
    assert_eq!(file["transfer_id"], "t1");
    assert_eq!(file["sender"]["uri"], ALICE);
    assert_eq!(file["receiver"]["uri"], BOB);
    for c in [&mut a, &mut a2] {
        let s = c.wait_for("sync add", account_event("sync")).await;
        assert_eq!(
            s["content"]["content_type"], "application/sylk-file-transfer",
            "{s}"
        );
        assert_eq!(s["content"]["server_generated"], true);
        assert_eq!(s["content"]["transaction"], "1");
    }
    let journal = sync(&mut a, None).await;
    assert_eq!(ids(&journal), ["t1"]);
    assert_eq!(journal[0]["direction"], "outgoing");

    // Download from the announced URL, hash checked.
    let url = file["url"].as_str().unwrap();
    let path = &url[url.find("/webrtcgateway/").unwrap()..];
    let (status, head, body) = http(&gw, "GET", path, "text/plain", b"").await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(sha1_hex(&body), file["hash"].as_str().unwrap());
    assert_eq!(body, data);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-disposition: inline;filename=\"photo.jpg\""),
        "{head}"
    );
    assert!(head.contains("content-type: image/jpeg"), "{head}");

    // Paths that would leave the store, sidecars, missing files.
    let base = &path[..path.rfind('/').unwrap()];
    for bad in [
        "/webrtcgateway/filetransfer/%2e%2e/x/t1/photo.jpg".to_string(),
        format!("{base}/..%2f..%2f..%2fstorage.sqlite"),
        format!("{base}/meta-photo.jpg"),
        "/webrtcgateway/filetransfer/a/b/..%2f..%2fx/photo.jpg".to_string(),
    ] {
        let (status, head, _) = http(&gw, "GET", &bad, "text/plain", b"").await;
        assert_eq!(status, 403, "{bad}: {head}");
    }
    let (status, _, _) = http(&gw, "GET", &format!("{base}/other.jpg"), "text/plain", b"").await;
    assert_eq!(status, 404);
    let escape = format!("/webrtcgateway/filetransfer/{ALICE}/{BOB}/..%2f..%2fx/evil.txt");
    let (status, _, _) = http(&gw, "POST", &escape, "text/plain", b"x").await;
    assert_eq!(status, 403);

    // The sender must be connected from the uploading address; someone must be known.
    let carol = format!("/webrtcgateway/filetransfer/carol@127.0.0.1/{BOB}/t3/a.txt");
    let (status, _, _) = http(&gw, "POST", &carol, "text/plain", b"x").await;
    assert_eq!(status, 403);
    // Added on a connection from this address, but never authenticated there: that is
    // nobody's word for dave (any password is taken by account-add).
    let mut d = gw.ready_client().await;
    let ack = d
        .request(
            json!({"sylkrtc": "account-add", "account": "dave@127.0.0.1", "password": ALICE_HA1}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack");
    let unknown = "/webrtcgateway/filetransfer/dave@127.0.0.1/erin@127.0.0.1/t4/a.txt";
    let (status, _, _) = http(&gw, "POST", unknown, "text/plain", b"x").await;
    assert_eq!(status, 403);

    // Cancel: nothing in flight, then an upload that stalls.
    let (status, _, body) = http(
        &gw,
        "POST",
        "/webrtcgateway/filetransfer/cancel/zz",
        "text/plain",
        b"",
    )
    .await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, "No active upload with transfer_id zz\n")
    );
    let mut stalled = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /webrtcgateway/filetransfer/{ALICE}/{BOB}/t2/big.bin HTTP/1.1\r\nHost: x\r\n\
         Connection: close\r\nContent-Length: 100000\r\n\r\n0123456789"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    gw.wait_log("filename=big.bin");
    let (status, _, body) = http(
        &gw,
        "GET",
        "/webrtcgateway/filetransfer/cancel/t2",
        "text/plain",
        b"",
    )
    .await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (200, "Cancelled upload t2\n")
    );
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stalled.read_to_end(&mut answer))
        .await
        .unwrap()
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let journal = sync(&mut a, None).await;
    assert_eq!(
        ids(&journal),
        ["t1"],
        "a cancelled upload announces nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sip_devices_read_remove_and_look_up_keys_with_api_messages() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let sip = gw.sip_addr();
    let mut c = gw.ready_client().await;
    add_and_register(&mut c, ALICE, ALICE_HA1).await;
    for id in ["a1", "a2"] {
        let status = sip_udp(
            sip,
            bob_message("alice", "message/cpim", &cpim(id, "text/plain", "hi")),
        )
        .await;
        assert_eq!(status, "SIP/2.0 200 OK");
        c.wait_for("message", account_event("message")).await;
    }
    // alice's SIP phone sends carol a message: her web connection gets a copy as sync.
    let copy = sip_message("alice", "carol", "text/plain", "from my phone");
    let status = sip_udp(sip, |port| {
        copy(port).replace(
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nX-Sylk-From-Sip: yes\r\n",
        )
    })
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let e = c.wait_for("sync add", account_event("sync")).await;
    assert_eq!(
        (e["type"].as_str(), e["action"].as_str()),
        (Some("message"), Some("add")),
        "{e}"
    );
    assert_eq!(e["content"]["server_generated"], true);
    assert_eq!(e["content"]["transaction"], "1");
    assert_eq!(e["content"]["uri"], "carol@127.0.0.1");
    assert_eq!(e["content"]["content"], "from my phone");
    let journal = sync(&mut c, None).await;
    let s1 = journal
        .iter()
        .find(|e| e["content"] == "from my phone")
        .unwrap();
    assert_eq!(s1["message_id"], e["content"]["message_id"]);
    assert_eq!(s1["direction"], "outgoing");

    // alice's SIP phone marks the conversation read, removes a message, then the conversation.
    let read = json!({"contact": "sip:bob@127.0.0.1"}).to_string();
    let status = sip_udp(
        sip,
        sip_message(
            "alice",
            "bob",
            "application/sylk-api-conversation-read",
            &read,
        ),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let e = c.wait_for("sync read", account_event("sync")).await;
    assert_eq!(
        (e["type"].as_str(), e["action"].as_str()),
        (Some("conversation"), Some("read")),
        "{e}"
    );
    assert_eq!(e["content"], json!({"contact": BOB}));
    let journal = sync(&mut c, None).await;
    assert!(
        journal
            .iter()
            .filter(|e| e["direction"] == "incoming")
            .all(|e| e["disposition"] == json!([])),
        "{journal:#?}"
    );

    let status = sip_udp(
        sip,
        sip_message("alice", "bob", "application/sylk-api-message-remove", "a1"),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let e = c.wait_for("sync remove", account_event("sync")).await;
    assert_eq!(
        e["content"],
        json!({"contact": BOB, "message_id": "a1", "direction": "outgoing"}),
        "{e}"
    );
    assert!(!ids(&sync(&mut c, None).await).contains(&"a1"));

    let remove = json!({"contact": BOB}).to_string();
    let status = sip_udp(
        sip,
        sip_message(
            "alice",
            "bob",
            "application/sylk-api-conversation-remove",
            &remove,
        ),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let e = c
        .wait_for("sync conversation remove", account_event("sync"))
        .await;
    assert_eq!(
        (e["type"].as_str(), e["action"].as_str()),
        (Some("conversation"), Some("remove")),
        "{e}"
    );
    assert!(!ids(&sync(&mut c, None).await).contains(&"a2"));

    // Bad API bodies: 400; an unknown API type: 415.
    for (content_type, body, expected) in [
        (
            "application/sylk-api-conversation-read",
            "not json",
            "SIP/2.0 400",
        ),
        ("application/sylk-api-message-remove", "", "SIP/2.0 400"),
        ("application/sylk-api-nonsense", "x", "SIP/2.0 415"),
    ] {
        let status = sip_udp(sip, sip_message("alice", "bob", content_type, body)).await;
        assert!(status.starts_with(expected), "{content_type}: {status}");
    }

    // bob's phone looks up alice's key: none yet (404), then it comes by MESSAGE.
    let status = sip_udp(
        sip,
        sip_message("bob", "alice", "application/sylk-api-pgp-key-lookup", ""),
    )
    .await;
    assert!(status.starts_with("SIP/2.0 404"), "{status}");
    let mut key = message("k1", "-----BEGIN PGP PUBLIC KEY BLOCK-----alice");
    key["content_type"] = json!("text/pgp-public-key");
    let sink = Sink::start(2);
    assert_eq!(c.request(key).await["sylkrtc"], "ack");
    let status = sip_udp(
        sip,
        sip_message("bob", "alice", "application/sylk-api-pgp-key-lookup", ""),
    )
    .await;
    assert_eq!(status, "SIP/2.0 200 OK");
    let got = sink.received().await;
    let answer = got
        .iter()
        .find(|m| m.contains("Content-Type: text/pgp-public-key") && !m.contains("message/cpim"))
        .unwrap_or_else(|| panic!("{got:#?}"));
    assert!(answer.contains("From: <sip:alice@127.0.0.1>"), "{answer}");
    assert!(
        answer
            .trim_end()
            .ends_with("-----BEGIN PGP PUBLIC KEY BLOCK-----alice"),
        "{answer}"
    );
}

/// Behind a reverse proxy the gateway listens on loopback, but the links it hands out use
/// `public_url`: a file transfer's announced URL starts with it.
#[tokio::test(flavor = "multi_thread")]
async fn file_transfer_links_use_the_public_url() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&[
        "--sip-proxy",
        PROXY,
        "--public-url",
        "https://sylk.example.test/",
    ]);
    let mut a = gw.ready_client().await;
    let mut b = gw.ready_client().await;
    add_and_register(&mut a, ALICE, ALICE_HA1).await;
    add_and_register(&mut b, BOB, "229de414bb9576e58e059e37426cf68c").await;
    let upload = format!("/webrtcgateway/filetransfer/{ALICE}/{BOB}/pub1/note.txt");
    let (status, _, body) = http(&gw, "POST", &upload, "text/plain", b"hello").await;
    assert_eq!((status, body.as_slice()), (200, &b"OK"[..]));
    let m = b.wait_for("file message", account_event("message")).await;
    let file: Value = serde_json::from_str(m["content"].as_str().unwrap()).unwrap();
    let url = file["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://sylk.example.test/webrtcgateway/filetransfer/"),
        "{url}"
    );
    assert!(url.ends_with("/pub1/note.txt"), "{url}");
}

/// `invite_participants` of a room's settings: when the first participant joins, the listed
/// accounts get `conference-invite` in that participant's name; later joins invite nobody.
#[tokio::test(flavor = "multi_thread")]
async fn a_rooms_invite_participants_are_invited_when_it_starts() {
    let _peers = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    let room = "weekly@conference.example.com";
    std::fs::write(
        &config,
        format!("[rooms.\"{room}\"]\ninvite_participants = [\"{BOB}\", \"{ALICE}\"]\n"),
    )
    .unwrap();
    let gw = Gateway::start(&["--sip-proxy", PROXY, "--config", config.to_str().unwrap()]);
    let mut alice = gw.ready_client().await;
    let mut bob = gw.ready_client().await;
    add_and_register(&mut alice, ALICE, ALICE_HA1).await;
    add_and_register(&mut bob, BOB, "229de414bb9576e58e059e37426cf68c").await;

    let join = |account: &str, session: &str, offer: &str| {
        json!({"sylkrtc": "videoroom-join", "session": session, "account": account,
               "uri": room, "sdp": offer})
    };
    let peer = common::webrtc_peer::TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let ack = alice.request(join(ALICE, "alice-room", &offer)).await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let invite = bob
        .wait_for("conference-invite", account_event("conference-invite"))
        .await;
    assert_eq!(invite["room"], room);
    assert_eq!(invite["originator"]["uri"], ALICE);
    // The originator is not invited to her own room.
    alice
        .expect_silence_of("conference-invite", Duration::from_millis(500))
        .await;

    // bob joins the running room: nobody is invited again.
    let peer = common::webrtc_peer::TestPeer::publisher().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let ack = bob.request(join(BOB, "bob-room", &offer)).await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    alice
        .expect_silence_of("conference-invite", Duration::from_millis(500))
        .await;
    bob.expect_silence_of("conference-invite", Duration::from_millis(500))
        .await;
}
