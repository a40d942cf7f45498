//! Bad input on the SIP listener: garbage and truncated datagrams, junk over TCP, a BYE for an
//! unknown dialog, an INVITE with an unusable SDP for an unknown binding. Each is answered per
//! RFC 3261 or dropped; nothing crashes and the UA keeps answering.
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;

fn sip_addr(gw: &Gateway) -> SocketAddr {
    let log = gw.wait_log("sip on udp ");
    log.split("sip on udp ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .expect("sip address in the log")
}

/// Sends `request` over UDP and returns the first response's status line (None: no answer).
fn exchange(sock: &UdpSocket, to: SocketAddr, request: &str) -> Option<String> {
    sock.send_to(request.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let line = text.lines().next().unwrap_or_default().to_string();
        // Skip keep-alive pongs (CRLF, RFC 5626) and provisional responses.
        if line.starts_with("SIP/2.0 ") && !line.starts_with("SIP/2.0 1") {
            return Some(line);
        }
    }
}

fn request(
    method: &str,
    ruri: &str,
    local: SocketAddr,
    call_id: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call_id}{method}\r\n\
Max-Forwards: 70\r\nFrom: <sip:tester@127.0.0.1>;tag=t1\r\nTo: <{ruri}>{extra}\r\n\
Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContact: <sip:tester@{local}>\r\n\
Content-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        }
    )
}

#[test]
fn sip_bad_input_is_answered_or_dropped_and_the_ua_goes_on() {
    let gw = Gateway::start(&[]);
    let sip = sip_addr(&gw);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let local = sock.local_addr().unwrap();
    let options = request("OPTIONS", &format!("sip:{sip}"), local, "opt-1", "", "");

    // The UA answers before anything bad happens.
    assert_eq!(
        exchange(&sock, sip, &options).as_deref(),
        Some("SIP/2.0 200 OK")
    );

    // Garbage and truncated datagrams: dropped (no crash).
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        b"\r\n\r\n".to_vec(),
        vec![0xff; 1500],
        b"INVITE".to_vec(),
        b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP".to_vec(),
        options.as_bytes()[..options.len() / 2].to_vec(),
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
        "BYE sip:\u{fffd}@\u{0} SIP/2.0\r\nCSeq: x\r\n\r\n"
            .as_bytes()
            .to_vec(),
    ];
    for g in &garbage {
        sock.send_to(g, sip).unwrap();
    }

    // Junk over TCP, then the connection closes.
    {
        use std::io::Write;
        let mut tcp = std::net::TcpStream::connect(sip).unwrap();
        let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0, 5, 1, 2, 3, 4, 5]);
        let _ = tcp.write_all(b"GARBAGE / HTTP/1.1\r\n\r\n");
    }

    // A BYE for a dialog that does not exist: 481.
    let bye = request(
        "BYE",
        &format!("sip:gw@{sip}"),
        local,
        "no-such-dialog",
        ";tag=x",
        "",
    );
    assert_eq!(
        exchange(&sock, sip, &bye).as_deref(),
        Some("SIP/2.0 481 Call/Transaction Does Not Exist")
    );

    // An INVITE for a binding nobody holds, with an unreadable SDP: refused, not crashed.
    let invite = request(
        "INVITE",
        &format!("sip:alice@{sip};gw=nobody"),
        local,
        "bad-invite",
        "",
        "this is not an sdp",
    );
    let answer = exchange(&sock, sip, &invite).expect("a final answer");
    assert!(
        ["SIP/2.0 404", "SIP/2.0 480", "SIP/2.0 488"]
            .iter()
            .any(|c| answer.starts_with(c)),
        "{answer}"
    );

    // And the UA still answers.
    let options = request("OPTIONS", &format!("sip:{sip}"), local, "opt-2", "", "");
    assert_eq!(
        exchange(&sock, sip, &options).as_deref(),
        Some("SIP/2.0 200 OK")
    );
}
