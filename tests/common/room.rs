//! A video room member with a real WebRTC publisher (the `webrtc` crate): join, trickle,
//! attach a feed with a real subscriber.
use std::time::Duration;

use serde_json::{json, Value};

use super::webrtc_peer::{PeerMode, TestPeer};
use super::{rand_id, Client, Gateway, HA1};

const T: Duration = Duration::from_secs(15);

pub struct Member {
    pub ws: Client,
    pub session: String,
    pub publisher: TestPeer,
}

pub fn uuid() -> String {
    format!("s-{}", rand_id())
}

pub fn ack(m: &Value) {
    assert_eq!(m["sylkrtc"], "ack", "expected an ack, got {m}");
}

pub async fn trickle(ws: &mut Client, session: &str, peer: &TestPeer) {
    let candidates: Vec<Value> = peer
        .local_candidates()
        .await
        .into_iter()
        .map(|(c, mid, idx)| json!({"candidate": c, "sdpMid": mid, "sdpMLineIndex": idx}))
        .collect();
    for c in candidates {
        ack(&ws.request(json!({"sylkrtc": "videoroom-session-trickle", "session": session, "candidates": [c]})).await);
    }
    ack(&ws
        .request(
            json!({"sylkrtc": "videoroom-session-trickle", "session": session, "candidates": []}),
        )
        .await);
}

pub async fn join_room(gw: &Gateway, user: &str, room: &str) -> Member {
    join_room_with(gw, user, room, PeerMode::Browser).await
}

/// [`join_room`] with a publisher of `mode` (over ICE-TCP only, for one).
pub async fn join_room_with(gw: &Gateway, user: &str, room: &str, mode: PeerMode) -> Member {
    let account = format!("{user}@example.com");
    join_room_as(gw, &account, HA1, room, mode).await
}

/// [`join_room_with`] as `account` (added with `ha1`, its display name the account's user).
pub async fn join_room_as(
    gw: &Gateway,
    account: &str,
    ha1: &str,
    room: &str,
    mode: PeerMode,
) -> Member {
    let mut ws = gw.ready_client().await;
    let user = account.split('@').next().unwrap_or(account);
    ack(&ws.request(json!({"sylkrtc": "account-add", "account": account, "password": ha1, "display_name": user})).await);
    join_room_on(ws, account, room, mode).await
}

/// Joins `room` as `account`, already added on `ws`.
pub async fn join_room_on(mut ws: Client, account: &str, room: &str, mode: PeerMode) -> Member {
    let publisher = TestPeer::publisher_with(mode).await.unwrap();
    let offer = publisher.create_offer().await.unwrap();
    let session = uuid();
    let m = ws
        .request(json!({"sylkrtc": "videoroom-join", "session": session, "account": account, "uri": room, "sdp": offer}))
        .await;
    ack(&m);
    // progress came before the ack, accepted after it.
    let first = ws
        .pending
        .front()
        .cloned()
        .expect("progress before the ack");
    assert_eq!(first["event"], "session-state");
    assert_eq!(first["state"], "progress");
    let accepted = ws
        .room_event(&session, "session-state", Some("accepted"))
        .await;
    assert_eq!(accepted["audio"], true);
    assert_eq!(accepted["video"], true);
    ws.room_event(&session, "initial-publishers", None).await;
    publisher
        .set_remote_answer(accepted["sdp"].as_str().unwrap())
        .await
        .unwrap();
    trickle(&mut ws, &session, &publisher).await;
    ws.room_event(&session, "session-state", Some("established"))
        .await;
    publisher.wait_connected(T).await.unwrap();
    Member {
        ws,
        session,
        publisher,
    }
}

pub async fn attach(m: &mut Member, publisher_session: &str) -> (String, TestPeer) {
    attach_with(m, publisher_session, PeerMode::Browser).await
}

/// [`attach`] with a subscriber of `mode`.
pub async fn attach_with(
    m: &mut Member,
    publisher_session: &str,
    mode: PeerMode,
) -> (String, TestPeer) {
    let feed = uuid();
    let r = m
        .ws
        .request(json!({"sylkrtc": "videoroom-feed-attach", "session": m.session, "publisher": publisher_session, "feed": feed}))
        .await;
    ack(&r);
    let attached = m.ws.room_event(&m.session, "feed-attached", None).await;
    assert_eq!(attached["feed"], json!(feed));
    let sub = TestPeer::subscriber_with(mode).await.unwrap();
    let answer = sub.answer(attached["sdp"].as_str().unwrap()).await.unwrap();
    let r = m
        .ws
        .request(json!({"sylkrtc": "videoroom-feed-answer", "session": m.session, "feed": feed, "sdp": answer}))
        .await;
    ack(&r);
    trickle(&mut m.ws, &feed, &sub).await;
    let est = m.ws.room_event(&m.session, "feed-established", None).await;
    assert_eq!(est["feed"], json!(feed));
    sub.wait_connected(T).await.unwrap();
    (feed, sub)
}
