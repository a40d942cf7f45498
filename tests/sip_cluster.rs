//! Several gateways as one service (issue 17), with SIP: two gateway processes sharing one
//! PostgreSQL store and one Redis, behind one Kamailio (every contact of an account kept, so
//! a MESSAGE or INVITE forks to every node that registered it).
//!
//! * alice on node A and alice on node B stay in sync: a message sent on A, the conversation
//!   marked read, a message removed, all reach B's connection as `sync`;
//! * an incoming SIP MESSAGE through Kamailio, forked to both nodes, reaches each of alice's
//!   connections exactly once (the shared store's unique message id decides which node
//!   delivers), and so does a delivery report;
//! * an addressbook change on A is `addressbook-updated` on B;
//! * carol in a room on A invites bob, online on B: the invitation reaches him there, and he
//!   is not dialled out;
//! * bob on B calls carol on A through Kamailio and audio flows both ways.
mod common;

use std::time::Duration;

use common::engines::{cluster_node, Postgres, Redis};
use common::messaging::*;
use common::sip::*;
use common::webrtc_peer::{Kind, TestPeer};
use common::*;
use serde_json::json;

static PEERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BOB_HA1: &str = "229de414bb9576e58e059e37426cf68c";
const CAROL: &str = "carol@127.0.0.1";
const CAROL_HA1: &str = "07ab6efaf9bd2a0f254646baa1d24eff";

fn node(node: &str, redis: &Redis, store: &str) -> Gateway {
    cluster_node(
        node,
        redis,
        store,
        &["--sip-proxy", PROXY, "--cluster-lease", "2"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_on_two_nodes_stays_in_sync_and_calls_cross_nodes() {
    let _serial = PEERS.lock().await;
    let _kamailio = Kamailio::start(&["-A", "WITH_MULTI_CONTACT"]);
    let pg = Postgres::start();
    let redis = Redis::start();
    let store = pg.database("cluster_sip");
    let a = node("a", &redis, &store);
    let b = node("b", &redis, &store);
    a.wait_log("cluster: on the bus");
    b.wait_log("cluster: on the bus");
    let mut on_a = a.ready_client().await;
    let mut on_b = b.ready_client().await;
    add_and_register(&mut on_a, ALICE, ALICE_HA1).await;
    add_and_register(&mut on_b, ALICE, ALICE_HA1).await;

    // A message sent on A is a `sync` add on B.
    let ack = on_a.request(message("web1", "hello bob")).await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let add = on_b.wait_for("sync add", account_event("sync")).await;
    assert_eq!(
        (add["type"].as_str(), add["action"].as_str()),
        (Some("message"), Some("add")),
        "{add}"
    );
    assert_eq!(add["content"]["message_id"], "web1", "{add}");
    // B's journal (the shared store) has it.
    let journal = sync(&mut on_b, None).await;
    assert!(
        journal.iter().any(|e| e["message_id"] == "web1"),
        "{journal:#?}"
    );

    // An incoming MESSAGE, forked by Kamailio to both nodes: once on each connection.
    // (What reaches the connections waits in their sockets while SIPp runs.)
    bob_sends(
        KAMAILIO_ADDR,
        "uac_message_cpim.xml",
        "alice",
        &[("msgid", "sip"), ("text", "hello alice")],
        1,
    )
    .await;
    for c in [&mut on_a, &mut on_b] {
        let m = c.wait_for("message", account_event("message")).await;
        assert_eq!(m["message_id"], "sip1", "{m}");
        assert_eq!(m["content"], "hello alice 1\r\n", "{m}");
    }
    // The node whose insert lost says so (which one wins is a race).
    let deadline = std::time::Instant::now() + WAIT;
    while !(a.log().contains("duplicate message ignored")
        || b.log().contains("duplicate message ignored"))
    {
        assert!(std::time::Instant::now() < deadline, "no node saw the fork");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::join!(
        on_a.expect_silence_of("message", Duration::from_secs(1)),
        on_b.expect_silence_of("message", Duration::from_secs(1)),
    );

    // bob's delivery report of web1, forked to both nodes: once on each connection.
    bob_sends(
        KAMAILIO_ADDR,
        "uac_imdn.xml",
        "alice",
        &[
            ("msgid", "web1"),
            ("status", "delivered"),
            ("notification", "delivery-notification"),
        ],
        1,
    )
    .await;
    let delivered = |m: &serde_json::Value| {
        m["event"] == "disposition-notification"
            && m["message_id"] == "web1"
            && m["state"] == "delivered"
    };
    for c in [&mut on_a, &mut on_b] {
        c.wait_for("disposition delivered", delivered).await;
    }
    // Not a second time (every message of the window looked at, not only the next).
    let second = Duration::from_secs(1);
    tokio::join!(
        on_a.expect_none("second delivery report", second, delivered),
        on_b.expect_none("second delivery report", second, delivered),
    );

    // Read on B, remove on A: each reaches the other node.
    let ack = on_b
        .request(
            json!({"sylkrtc": "account-mark-conversation-read", "account": ALICE, "contact": BOB}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let read = on_a.wait_for("sync read", account_event("sync")).await;
    assert_eq!(
        (read["type"].as_str(), read["action"].as_str()),
        (Some("conversation"), Some("read")),
        "{read}"
    );
    let ack = on_a
        .request(json!({"sylkrtc": "account-remove-message", "account": ALICE, "message_id": "web1", "contact": BOB}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let removed = on_b.wait_for("sync remove", account_event("sync")).await;
    assert_eq!(
        (removed["type"].as_str(), removed["action"].as_str()),
        (Some("message"), Some("remove")),
        "{removed}"
    );
    let journal = sync(&mut on_b, None).await;
    assert!(
        !journal.iter().any(|e| e["message_id"] == "web1"),
        "{journal:#?}"
    );

    // An addressbook change on A reaches B (and the shared store has it).
    let contact = json!({"id": "c1", "name": "Bob", "uris": [{"id": "u1", "uri": BOB}],
                         "dialog": {"policy": "default", "subscribe": false},
                         "presence": {"policy": "default", "subscribe": false}});
    let ack = on_a
        .request(
            json!({"sylkrtc": "account-update-addressbook", "account": ALICE,
                        "action": "add", "type": "contact", "data": contact}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let updated = on_b
        .wait_for("addressbook-updated", account_event("addressbook-updated"))
        .await;
    assert_eq!(updated["contact"]["name"], "Bob", "{updated}");
    let ack = on_b
        .request(json!({"sylkrtc": "account-fetch-addressbook", "account": ALICE}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let book = on_b
        .wait_for("addressbook-fetched", account_event("addressbook-fetched"))
        .await;
    assert_eq!(book["addressbook"]["contacts"][0]["id"], "c1", "{book}");

    // bob on B calls carol on A through Kamailio; audio flows both ways.
    let mut carol = a.ready_client().await;
    add_and_register(&mut carol, CAROL, CAROL_HA1).await;
    let mut bob = b.ready_client().await;
    add_and_register(&mut bob, BOB, BOB_HA1).await;
    let (caller, caller_audio) = TestPeer::caller().await.unwrap();
    // The test peers send G.711 (a browser sends its first codec, Opus): offered alone, it is
    // what both nodes' SIP legs carry.
    let offer = without_opus(&caller.create_offer().await.unwrap());
    let ack = bob
        .request(json!({"sylkrtc": "session-create", "session": "cross-1", "account": BOB, "uri": CAROL, "sdp": offer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let incoming = carol
        .wait_for("incoming-session", |m| {
            m["sylkrtc"] == "account-event" && m["event"] == "incoming-session"
        })
        .await;
    let session = incoming["session"].as_str().unwrap().to_string();
    let (callee, callee_audio) = TestPeer::caller().await.unwrap();
    let answer = callee
        .answer(incoming["sdp"].as_str().unwrap())
        .await
        .unwrap();
    let ack = carol
        .request(json!({"sylkrtc": "session-answer", "session": session, "sdp": answer}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let accepted = bob
        .wait_for("accepted", |m| {
            m["session"] == "cross-1" && m["event"] == "state" && m["state"] == "accepted"
        })
        .await;
    caller
        .set_remote_answer(accepted["sdp"].as_str().unwrap())
        .await
        .unwrap();
    caller.wait_connected(WAIT).await.unwrap();
    callee.wait_connected(WAIT).await.unwrap();
    let _to_carol = caller_audio.start_sending().await.unwrap();
    let _to_bob = callee_audio.start_sending().await.unwrap();
    callee
        .wait_received(Kind::Audio, 50, WAIT)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "carol on A hears bob on B: {e}\nA:\n{}\nB:\n{}",
                a.log(),
                b.log()
            )
        });
    caller
        .wait_received(Kind::Audio, 50, WAIT)
        .await
        .expect("bob on B hears carol on A");

    // carol, in a room on A, invites bob, online on B: the invitation reaches him there over
    // the bus, and he is not called from the room as if he were a phone.
    let presence = || {
        let out = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &redis.port.to_string(),
                "SISMEMBER",
                "sylk:presence:b",
                BOB,
            ])
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !presence() {
        assert!(
            std::time::Instant::now() < deadline,
            "bob's presence on B not recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // From a connection of her own, where she is registered too (an invitation is sent in
    // the name of an authenticated account).
    let mut in_room = a.ready_client().await;
    add_and_register(&mut in_room, CAROL, CAROL_HA1).await;
    in_room.pending.clear();
    let room = common::room::join_room_on(
        in_room,
        CAROL,
        "meet@127.0.0.1",
        common::webrtc_peer::PeerMode::Browser,
    )
    .await;
    let mut in_room = room.ws;
    let ack = in_room
        .request(
            json!({"sylkrtc": "videoroom-invite", "session": room.session, "participants": [BOB]}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let invite = bob
        .wait_for("conference-invite", |m| m["event"] == "conference-invite")
        .await;
    assert_eq!(invite["room"], "meet@127.0.0.1", "{invite}");
    assert_eq!(invite["originator"]["uri"], CAROL, "{invite}");
    a.wait_log("dial-out not made: the invitee is online on another node");
    bob.expect_silence_of("incoming-session", Duration::from_secs(1))
        .await;
}

/// `sdp` without its Opus payload type (the m= line's format and its attributes).
fn without_opus(sdp: &str) -> String {
    let pt = sdp
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("a=rtpmap:")?;
            let (pt, codec) = rest.split_once(' ')?;
            codec
                .to_ascii_lowercase()
                .starts_with("opus/")
                .then(|| pt.to_string())
        })
        .expect("an Opus payload type");
    let attribute = |l: &str| {
        ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"].iter().any(|p| {
            l.strip_prefix(p)
                .is_some_and(|r| r.split(' ').next() == Some(pt.as_str()))
        })
    };
    sdp.lines()
        .filter(|l| !attribute(l))
        .map(|l| {
            if l.starts_with("m=audio ") {
                l.split(' ')
                    .enumerate()
                    .filter(|(i, f)| *i < 3 || *f != pt)
                    .map(|(_, f)| f)
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\r\n")
        .collect()
}
