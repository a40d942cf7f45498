//! Incoming 1:1 calls from SIP through a real Kamailio 5.6 (registrar + record-routing
//! proxy) to the gateway's registered account, from real SIPp callers:
//!
//! * answered call: `incoming-session` (session = md5(Call-ID) as a UUID, originator, WebRTC
//!   offer, call_id, headers by `incoming_header_prefixes`), `session-answer` -> `accepted`
//!   (no sdp), `established`; SIPp's PCMA (a pcap) reaches the browser; SIPp's BYE ->
//!   `terminated` "200 Received BYE";
//! * the caller cancels while it rings: SIPp gets 487, the client `terminated`
//!   "487 Request Terminated" then `missed-session`;
//! * `session-terminate` before answering: SIPp gets 486, `terminated` "486 Busy Here";
//! * `session-dtmf-info` on an (outgoing) established call: one INFO
//!   `application/dtmf-relay` `Signal=<c>` per tone, which SIPp checks; the state error before
//!   the answer;
//! * `session-update` (hold, a=sendonly offer) on an established outgoing call: re-INVITE
//!   with a=sendonly (checked by SIPp, which answers a=recvonly), `update {state: accepted,
//!   sdp}`; the state error before;
//! * a re-INVITE of the far end (hold, a=sendonly) on an established call: the gateway
//!   answers it itself (200 with a=recvonly, checked by SIPp); the client sees no event.
//!
//! Same fixed ports as tests/sip_calls.rs (peers.md §8), so nextest's `sip` group runs the
//! `sip_*` binaries one at a time and a static lock serialises the tests of this binary.
mod common;

use std::time::Duration;

use common::sip::*;
use common::webrtc_peer::{Kind, TestPeer, PCMA_PT};
use common::*;
use serde_json::{json, Value};

/// One set of peers at a time (fixed ports), across the tests of this binary.
static PEERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The gateway with alice added and registered at Kamailio (contact `;gw=<token>`).
async fn gateway_with_registered_alice() -> (Gateway, Client) {
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut c = gw.ready_client().await;
    let ack = c
        .request(
            json!({"sylkrtc": "account-add", "account": ALICE, "password": ALICE_HA1,
                   "display_name": "Alice", "incoming_header_prefixes": ["User-"]}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    register(&mut c, ALICE).await;
    (gw, c)
}

/// bob calls alice through Kamailio with `scenario`.
/// The SIPp caller's scenario ran to its end (exit 0) and its BYE ended the call:
/// `terminated` "200 Received BYE".
async fn callers_bye_ends_the_call(sipp: Sipp, gw: &Gateway, c: &mut Client, session: &str) {
    let (code, log) = sipp.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "sipp caller:\n{log}\ngateway:\n{}", gw.log());
    let e = expect_state(c, session, "terminated").await;
    assert_eq!(e["reason"], "200 Received BYE", "{e}");
}

async fn incoming_session(c: &mut Client) -> Value {
    c.wait_for("incoming-session", |m| {
        m["sylkrtc"] == "account-event" && m["event"] == "incoming-session"
    })
    .await
}

/// The session id the spec gives an incoming call: md5(Call-ID) as 8-4-4-4-12 hex.
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|ch| ch == '-' || ch.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_incoming_call_answered_media_then_caller_hangs_up() {
    let _serial = PEERS.lock().await;
    let kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    let sipp = Sipp::caller(&shared_scenario("uac_call.xml"));

    let inc = incoming_session(&mut c).await;
    assert_eq!(inc["account"], ALICE, "{inc}");
    let session = inc["session"].as_str().unwrap().to_string();
    assert!(is_uuid(&session), "{inc}");
    assert_eq!(inc["originator"]["uri"], "bob@127.0.0.1", "{inc}");
    assert!(
        inc["call_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{inc}"
    );
    assert_eq!(inc["headers"]["User-Agent"], "sipp-uac", "{inc}");
    let offer = inc["sdp"].as_str().unwrap();
    assert!(offer.contains("PCMA/8000"), "{offer}");
    assert!(offer.contains("a=fingerprint"), "{offer}");

    // Answering twice, or an outgoing-only request, gets the spec's errors.
    let (peer, _audio) = TestPeer::caller().await.unwrap();
    let answer = peer.answer(offer).await.unwrap();
    let ack = c
        .request(json!({"sylkrtc": "session-answer", "session": session, "sdp": answer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let accepted = expect_state(&mut c, &session, "accepted").await;
    assert!(accepted.get("sdp").is_none(), "{accepted}");
    let again = c
        .request(json!({"sylkrtc": "session-answer", "session": session, "sdp": "v=0"}))
        .await;
    assert_eq!(
        again["error"],
        format!("Invalid state for answering session {session}: accepted"),
        "{again}"
    );
    peer.wait_connected(WAIT).await.unwrap();
    expect_state(&mut c, &session, "established").await;

    // SIPp plays PCMA from its pcap: it reaches the browser.
    let got = peer
        .wait_received(Kind::Audio, 20, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(got.iter().all(|r| r.payload_type == PCMA_PT), "{got:?}");

    // SIPp hangs up after its 9 s pause (its BYE answered 200) and ends cleanly.
    let (code, log) = sipp.exit_code(Duration::from_secs(25)).await;
    assert_eq!(code, Some(0), "sipp caller:\n{log}\ngateway:\n{}", gw.log());
    let e = expect_state(&mut c, &session, "terminated").await;
    assert_eq!(e["reason"], "200 Received BYE", "{e}");
    let k = kamailio.log();
    assert!(k.contains("REQ INVITE sip:alice@127.0.0.1"), "{k}");
    peer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_incoming_call_cancelled_is_missed() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    let sipp = Sipp::caller(&own_scenario("uac_cancel.xml"));

    let inc = incoming_session(&mut c).await;
    let session = inc["session"].as_str().unwrap().to_string();
    assert_eq!(inc["originator"]["display_name"], "Bob Caller", "{inc}");
    let e = expect_state(&mut c, &session, "terminated").await;
    assert_eq!(e["reason"], "487 Request Terminated", "{e}");
    let missed = c
        .wait_for("missed-session", |m| m["event"] == "missed-session")
        .await;
    assert_eq!(missed["account"], ALICE, "{missed}");
    assert_eq!(missed["originator"]["uri"], "bob@127.0.0.1", "{missed}");
    let (code, log) = sipp.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "sipp caller:\n{log}\ngateway:\n{}", gw.log());
    let e = c
        .request(json!({"sylkrtc": "session-answer", "session": session, "sdp": "v=0"}))
        .await;
    assert_eq!(e["error"], format!("Unknown session {session}"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_incoming_call_declined_with_486() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    let sipp = Sipp::caller(&own_scenario("uac_declined.xml"));

    let inc = incoming_session(&mut c).await;
    let session = inc["session"].as_str().unwrap().to_string();
    let ack = c
        .request(json!({"sylkrtc": "session-terminate", "session": session}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = expect_state(&mut c, &session, "terminated").await;
    assert_eq!(e["reason"], "486 Busy Here", "{e}");
    let (code, log) = sipp.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "sipp caller:\n{log}\ngateway:\n{}", gw.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_dtmf_info_sent_in_the_dialog() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    let uas = Sipp::callee(&own_scenario("uas_dtmf_info.xml"));
    let (gw, mut c) = gateway_with_registered_alice().await;
    let (peer, _audio) = TestPeer::caller().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let ack = c
        .request(
            json!({"sylkrtc": "session-create", "session": "dtmf-1", "account": ALICE,
                        "uri": BOB, "sdp": offer}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    // The callee rings for a second before answering: DTMF is refused meanwhile (the
    // session state stays `progress` while ringing, as in SylkServer).
    c.wait_for("ringing", |m| {
        m["session"] == "dtmf-1" && m["state"] == "ringing"
    })
    .await;
    let e = c
        .request(json!({"sylkrtc": "session-dtmf-info", "session": "dtmf-1", "digit": "5"}))
        .await;
    assert_eq!(
        e["error"], "Invalid state session dtmf-1: progress for DTMF info",
        "{e}"
    );
    let accepted = c
        .wait_for("accepted", |m| {
            m["session"] == "dtmf-1" && m["state"] == "accepted"
        })
        .await;
    peer.set_remote_answer(accepted["sdp"].as_str().unwrap())
        .await
        .unwrap();
    c.wait_for("established", |m| {
        m["session"] == "dtmf-1" && m["state"] == "established"
    })
    .await;
    let ack = c
        .request(json!({"sylkrtc": "session-dtmf-info", "session": "dtmf-1", "digit": "5"}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = c
        .request(json!({"sylkrtc": "session-dtmf-info", "session": "nope", "digit": "5"}))
        .await;
    assert_eq!(e["error"], "Unknown session nope", "{e}");
    // The INFO is answered before the BYE goes.
    gw.wait_log("INFO answered");
    let ack = c
        .request(json!({"sylkrtc": "session-terminate", "session": "dtmf-1"}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = c
        .wait_for("terminated", |m| {
            m["session"] == "dtmf-1" && m["state"] == "terminated"
        })
        .await;
    assert_eq!(e["reason"], "200 to BYE", "{e}");
    let (code, log) = uas.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "sipp callee:\n{log}\ngateway:\n{}", gw.log());
    peer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_remote_hold_reinvite_answered_by_the_gateway() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    let uas = Sipp::callee(&own_scenario("uas_reinvite_hold.xml"));
    let (gw, mut c) = gateway_with_registered_alice().await;
    let (peer, audio) = TestPeer::caller().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let ack = c
        .request(
            json!({"sylkrtc": "session-create", "session": "hold-1", "account": ALICE,
                        "uri": BOB, "sdp": offer}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let accepted = c
        .wait_for("accepted", |m| {
            m["session"] == "hold-1" && m["state"] == "accepted"
        })
        .await;
    peer.set_remote_answer(accepted["sdp"].as_str().unwrap())
        .await
        .unwrap();
    c.wait_for("established", |m| {
        m["session"] == "hold-1" && m["state"] == "established"
    })
    .await;
    // Audio the callee echoes back (SIPp -rtp_echo).
    let _sending = audio.start_sending().await.unwrap();
    // SIPp's re-INVITEs (hold, then unhold 0.3 s later) come 0.5 s after its ACK: wait until
    // the gateway answered both (SIPp checks the directions of the answers).
    let deadline = std::time::Instant::now() + WAIT;
    while gw.log().matches("re-INVITE answered").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Media flows again after the unhold (SIPp echoes what it gets).
    let before = peer.received().of(Kind::Audio).len();
    peer.wait_received_until(Kind::Audio, WAIT, |r| r.len() > before + 10)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no audio after the unhold: {e}
{}",
                gw.log()
            )
        });
    let ack = c
        .request(json!({"sylkrtc": "session-terminate", "session": "hold-1"}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = c
        .wait_for("terminated", |m| {
            m["session"] == "hold-1" && m["state"] == "terminated"
        })
        .await;
    assert_eq!(e["reason"], "200 to BYE", "{e}");
    let (code, log) = uas.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "sipp callee:\n{log}\ngateway:\n{}", gw.log());
    peer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_local_hold_sends_a_reinvite() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    register_bob().await;
    let uas = Sipp::callee(&own_scenario("uas_hold_accept.xml"));
    let (gw, mut c) = gateway_with_registered_alice().await;
    let (peer, audio) = TestPeer::caller().await.unwrap();
    let offer = peer.create_offer().await.unwrap();
    let ack = c
        .request(
            json!({"sylkrtc": "session-create", "session": "lhold-1", "account": ALICE,
                        "uri": BOB, "sdp": offer}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = c
        .request(json!({"sylkrtc": "session-update", "session": "lhold-1", "sdp": "v=0"}))
        .await;
    // Before `established` (the callee may already have answered: a race with its 200).
    assert!(
        [
            "Invalid state for updating session lhold-1: progress",
            "Invalid state for updating session lhold-1: accepted",
        ]
        .contains(&e["error"].as_str().unwrap_or("")),
        "{e}"
    );
    let accepted = c
        .wait_for("accepted", |m| {
            m["session"] == "lhold-1" && m["state"] == "accepted"
        })
        .await;
    peer.set_remote_answer(accepted["sdp"].as_str().unwrap())
        .await
        .unwrap();
    c.wait_for("established", |m| {
        m["session"] == "lhold-1" && m["state"] == "established"
    })
    .await;
    // Audio the callee echoes back (SIPp -rtp_echo).
    let _sending = audio.start_sending().await.unwrap();
    // Hold: the browser's new offer with its audio sendonly.
    let update = update_direction(&mut c, &peer, "lhold-1", "sendonly").await;
    assert_eq!(
        update["state"],
        "accepted",
        "{update}\ngateway:\n{}",
        gw.log()
    );
    assert!(
        update["sdp"]
            .as_str()
            .is_some_and(|s| s.contains("a=fingerprint")),
        "{update}"
    );
    // Unhold: a sendrecv offer again; the callee checks a=sendrecv and media flows again
    // (SIPp echoes what it gets).
    let update = update_direction(&mut c, &peer, "lhold-1", "sendrecv").await;
    assert_eq!(
        update["state"],
        "accepted",
        "{update}\ngateway:\n{}",
        gw.log()
    );
    let before = peer.received().of(Kind::Audio).len();
    peer.wait_received_until(Kind::Audio, WAIT, |r| r.len() > before + 10)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no audio after the unhold: {e}
{}",
                gw.log()
            )
        });
    let ack = c
        .request(json!({"sylkrtc": "session-terminate", "session": "lhold-1"}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = c
        .wait_for("terminated", |m| {
            m["session"] == "lhold-1" && m["state"] == "terminated"
        })
        .await;
    assert_eq!(e["reason"], "200 to BYE", "{e}");
    let (code, log) = uas.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "sipp callee:\n{log}\ngateway:\n{}", gw.log());
    peer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_incoming_call_local_hold_sends_a_reinvite_to_the_caller() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    let sipp = Sipp::caller(&own_scenario("uac_reinvited.xml"));
    let inc = incoming_session(&mut c).await;
    let session = inc["session"].as_str().unwrap().to_string();
    let offer = inc["sdp"].as_str().unwrap();
    let (peer, _audio) = TestPeer::caller().await.unwrap();
    let answer = peer.answer(offer).await.unwrap();
    let ack = c
        .request(json!({"sylkrtc": "session-answer", "session": session, "sdp": answer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    expect_state(&mut c, &session, "accepted").await;
    peer.wait_connected(WAIT).await.unwrap();
    expect_state(&mut c, &session, "established").await;
    let reoffer = peer
        .create_offer()
        .await
        .unwrap()
        .replace("a=sendrecv", "a=sendonly");
    let ack = c
        .request(json!({"sylkrtc": "session-update", "session": session, "sdp": reoffer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}\ngateway:\n{}", gw.log());
    let update = c
        .wait_for("update", |m| {
            m["session"] == session.as_str() && m["event"] == "update"
        })
        .await;
    assert_eq!(
        update["state"],
        "accepted",
        "{update}\ngateway:\n{}",
        gw.log()
    );
    callers_bye_ends_the_call(sipp, &gw, &mut c, &session).await;
    peer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_incoming_call_challenges_to_our_reinvite_and_message_are_answered() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    // The caller answers our re-INVITE with 407 and our MESSAGE with 401 (qop=auth), then
    // checks that the retries carry credentials for its nonces.
    let sipp = Sipp::caller(&own_scenario("uac_reinvite_challenge.xml"));
    let (session, peer) = answer_incoming(&mut c).await;
    let update = hold(&mut c, &peer, &session).await;
    assert_eq!(
        update["state"],
        "accepted",
        "{update}\ngateway:\n{}",
        gw.log()
    );
    let ack = c
        .request(
            json!({"sylkrtc": "session-message", "session": session, "message_id": "im1",
                        "content": "after the challenge", "content_type": "text/plain",
                        "timestamp": "2026-11-22T12:00:00.000Z"}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let d = c
        .wait_for("disposition", |m| {
            m["session"] == session.as_str() && m["event"] == "disposition-notification"
        })
        .await;
    assert_eq!(
        (d["state"].as_str(), d["code"].as_i64()),
        (Some("accepted"), Some(200)),
        "{d}"
    );
    callers_bye_ends_the_call(sipp, &gw, &mut c, &session).await;
    peer.close().await.unwrap();
}

/// Answers the next incoming call with a webrtc-crate peer; returns at `established`.
async fn answer_incoming(c: &mut Client) -> (String, TestPeer) {
    let inc = incoming_session(c).await;
    let session = inc["session"].as_str().unwrap().to_string();
    let (peer, _audio) = TestPeer::caller().await.unwrap();
    let answer = peer.answer(inc["sdp"].as_str().unwrap()).await.unwrap();
    let ack = c
        .request(json!({"sylkrtc": "session-answer", "session": session, "sdp": answer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    expect_state(c, &session, "accepted").await;
    peer.wait_connected(WAIT).await.unwrap();
    expect_state(c, &session, "established").await;
    (session, peer)
}

/// Puts the call on hold from the browser (`session-update`, a=sendonly); the `update` event.
async fn hold(c: &mut Client, peer: &TestPeer, session: &str) -> Value {
    update_direction(c, peer, session, "sendonly").await
}

/// `session-update` with the browser's new offer, its audio `direction` (`sendonly`: hold,
/// `sendrecv`: unhold); the `update` event.
async fn update_direction(
    c: &mut Client,
    peer: &TestPeer,
    session: &str,
    direction: &str,
) -> Value {
    let offer = peer
        .create_offer()
        .await
        .unwrap()
        .replace("a=sendrecv", &format!("a={direction}"));
    let ack = c
        .request(json!({"sylkrtc": "session-update", "session": session, "sdp": offer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    c.wait_for("update", |m| {
        m["session"] == session && m["event"] == "update"
    })
    .await
}

/// One INVITE for alice through Kamailio from a raw UDP socket; its final status line.
async fn raw_invite(call_id: &str, content_type: Option<&str>, body: &str) -> String {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut text = format!(
        "INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:tester@127.0.0.1>;tag=t-{call_id}\r\nTo: <sip:alice@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:tester@{local}>\r\n"
    );
    if let Some(t) = content_type {
        text.push_str(&format!("Content-Type: {t}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    socket
        .send_to(text.as_bytes(), KAMAILIO_ADDR)
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
            .await
            .expect("a final response in time")
            .unwrap();
        let line = String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        if line.starts_with("SIP/2.0 ") && !line.starts_with("SIP/2.0 1") {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_bad_invites_for_a_registered_account_get_488_and_the_call_goes_on() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    // A call in progress first.
    let sipp = Sipp::caller(&own_scenario("uac_reinvited.xml"));
    let (session, peer) = answer_incoming(&mut c).await;

    // Bad INVITEs for alice's binding, relayed by Kamailio to the gateway.
    let g729 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 16010 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    let cases = [
        ("bad-sdp", Some("application/sdp"), "this is not an SDP"),
        ("no-codec", Some("application/sdp"), g729),
        ("no-body", None, ""),
        (
            "truncated",
            Some("application/sdp"),
            "v=0\r\no=- 1 1 IN IP4",
        ),
    ];
    for (call_id, content_type, body) in cases {
        let status = raw_invite(call_id, content_type, body).await;
        assert!(
            status.starts_with("SIP/2.0 488"),
            "{call_id}: {status}\n{}",
            gw.log()
        );
    }
    // No event reached the client for them, and the call goes on: hold by re-INVITE, then
    // the caller's BYE.
    let update = hold(&mut c, &peer, &session).await;
    assert_eq!(update["state"], "accepted", "{update}");
    callers_bye_ends_the_call(sipp, &gw, &mut c, &session).await;
    assert!(
        !c.pending.iter().any(|m| m["event"] == "incoming-session"),
        "{:?}",
        c.pending
    );
    peer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_caller_adding_video_by_reinvite_is_offered_to_the_browser_and_answered() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let (gw, mut c) = gateway_with_registered_alice().await;
    // The caller's re-INVITE adds a VP8 line; its 200 must accept audio and video.
    let sipp = Sipp::caller(&own_scenario("uac_reinvite_video.xml"));
    let (session, peer) = answer_incoming(&mut c).await;
    let update = c
        .wait_for("update", |m| {
            m["session"] == session.as_str() && m["event"] == "update"
        })
        .await;
    assert_eq!(update["state"], "received", "{update}\n{}", gw.log());
    let offer = update["sdp"].as_str().unwrap();
    assert!(
        offer.contains("m=audio") && offer.contains("m=video 9 ") && offer.contains("VP8/90000"),
        "{offer}"
    );
    let answer = peer.answer_now(offer).await.unwrap();
    assert!(answer.contains("m=video 9 "), "{answer}");
    let ack = c
        .request(json!({"sylkrtc": "session-update", "session": session, "sdp": answer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}\ngateway:\n{}", gw.log());
    callers_bye_ends_the_call(sipp, &gw, &mut c, &session).await;
    peer.close().await.unwrap();
}

/// `sdes_srtp = "mandatory"`: a plain-RTP INVITE for alice gets 488, one offering RTP/SAVP
/// with a key reaches her; `disabled` refuses RTP/SAVP.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sip_incoming_sdes_modes_refuse_what_they_cannot_take() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let plain = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=audio 16010 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
    let savp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 16010 RTP/SAVP 8\r\na=rtpmap:8 PCMA/8000\r\n\
                a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\r\n";
    for (mode, sdp, code) in [
        ("mandatory", plain, Some("488")),
        ("mandatory", savp, None),
        ("disabled", savp, Some("488")),
    ] {
        let gw = Gateway::start(&["--sip-proxy", PROXY, "--sdes-srtp", mode]);
        let mut c = gw.ready_client().await;
        add_and_register(&mut c, ALICE, ALICE_HA1).await;
        let call_id = format!("sdes-{mode}-{}", code.unwrap_or("ok"));
        match code {
            Some(code) => {
                let status = raw_invite(&call_id, Some("application/sdp"), sdp).await;
                assert!(
                    status.starts_with(&format!("SIP/2.0 {code}")),
                    "{mode}: {status}\n{}",
                    gw.log()
                );
            }
            None => {
                // Accepted: the browser is offered the call (the INVITE is then left to ring).
                tokio::spawn(raw_invite_unanswered(call_id, sdp.to_string()));
                let inc = incoming_session(&mut c).await;
                assert!(inc["sdp"].as_str().unwrap().contains("PCMA"), "{inc}");
            }
        }
    }
}

/// Sends an INVITE through Kamailio and forgets it (its transaction times out).
async fn raw_invite_unanswered(call_id: String, body: String) {
    let _ = tokio::time::timeout(WAIT, raw_invite(&call_id, Some("application/sdp"), &body)).await;
}
