//! Messaging helpers shared by the SIP messaging tests: SIP requests from a plain UDP socket
//! (as a phone or the forking proxy would send them straight to the gateway), CPIM bodies, a
//! push server stand-in, one-shot HTTP requests, journal syncs.
use std::net::SocketAddr;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::rand_id;
use super::sip::{ALICE, BOB};
use super::{Client, Gateway, WAIT};

pub fn account_event<'a>(event: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |m: &Value| m["sylkrtc"] == "account-event" && m["event"] == event
}

pub fn message(id: &str, text: &str) -> Value {
    json!({"sylkrtc": "account-message", "account": ALICE, "uri": BOB, "message_id": id,
           "content": text, "content_type": "text/plain",
           "timestamp": "2026-11-22T09:00:00.000Z"})
}

pub async fn sync(c: &mut Client, after: Option<&str>) -> Vec<Value> {
    let ack = c
        .request(
            json!({"sylkrtc": "account-sync-conversations", "account": ALICE,
                        "message_id": after}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    let e = c
        .wait_for("sync-conversations", account_event("sync-conversations"))
        .await;
    e["messages"].as_array().unwrap().clone()
}

/// The first line of `text` starting with `prefix`.
pub fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"))
        .trim()
}

pub async fn sip_udp(to: SocketAddr, request: impl Fn(u16) -> String) -> String {
    sip_udp_from("127.0.0.1", to, request).await
}

/// As [`sip_udp`], from a socket on `ip` (127.0.0.2 is loopback, but not the proxy).
pub async fn sip_udp_from(ip: &str, to: SocketAddr, request: impl Fn(u16) -> String) -> String {
    let socket = tokio::net::UdpSocket::bind((ip, 0)).await.unwrap();
    let port = socket.local_addr().unwrap().port();
    socket.send_to(request(port).as_bytes(), to).await.unwrap();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
            .await
            .expect("a SIP response in time")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status = text.lines().next().unwrap_or("").to_string();
        if !status.starts_with("SIP/2.0 1") {
            return status;
        }
    }
}

/// A MESSAGE from bob to `to_user` with `content_type` and `body`, as a SIP phone (or the
/// forking proxy) would send it straight to the gateway.
pub fn bob_message(to_user: &str, content_type: &str, body: &str) -> impl Fn(u16) -> String {
    sip_message("bob", to_user, content_type, body)
}

/// A MESSAGE from `from_user` to `to_user` (both @127.0.0.1).
pub fn sip_message(
    from_user: &str,
    to_user: &str,
    content_type: &str,
    body: &str,
) -> impl Fn(u16) -> String {
    let (from_user, to_user, content_type, body) = (
        from_user.to_string(),
        to_user.to_string(),
        content_type.to_string(),
        body.to_string(),
    );
    let call_id = rand_id();
    move |port| {
        format!(
            "MESSAGE sip:{to_user}@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}\r\n\
             From: <sip:{from_user}@127.0.0.1>;tag=t{port}\r\nTo: <sip:{to_user}@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }
}

pub fn cpim(id: &str, content_type: &str, text: &str) -> String {
    format!(
        "From: <sip:bob@127.0.0.1>\r\nTo: <sip:alice@127.0.0.1>\r\nDateTime: 2026-11-22T11:00:00Z\r\n\
         NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: {id}\r\n\
         imdn.Disposition-Notification: positive-delivery\r\n\r\nContent-Type: {content_type}\r\n\r\n{text}"
    )
}

pub async fn push_server(statuses: Vec<u16>) -> (SocketAddr, tokio::sync::mpsc::Receiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        for status in statuses {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed early");
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = line(head, "Content-Length:")
                        .split(':')
                        .nth(1)
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    assert!(head.starts_with("POST /push HTTP/1.1"), "{head}");
                    if body.len() >= length {
                        break body.to_string();
                    }
                }
            };
            let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            s.write_all(reply.as_bytes()).await.unwrap();
            tx.send(serde_json::from_str(&body).unwrap()).await.unwrap();
        }
    });
    (addr, rx)
}

/// One HTTP/1.1 request with `Connection: close`: (status, head, body).
pub async fn http(
    gw: &Gateway,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, out[end + 4..].to_vec())
}
