//! SIP registration against a real Kamailio 5.6 (registrar with digest auth, shared
//! `peers/kamailio`): `account-register` with the right HA1 reaches `registered`, a wrong one
//! `failed` with Kamailio's reason; unregistering, removing the account and closing the
//! connection remove exactly that connection's binding; the same account on two connections
//! holds two bindings; bindings are refreshed before they expire.
//!
//! The bindings are read from Kamailio itself: a REGISTER without Contact (RFC 3261 §10.2.3,
//! answered with the AOR's current contacts) and an OPTIONS to the AOR, which Kamailio
//! forwards to the registered contact (the gateway answers it) or answers 404 when there is
//! none. Both are sent from this test over UDP to 127.0.0.1 only.
//!
//! Kamailio listens on the fixed 127.0.0.1:5060, so these tests run one at a time: nextest
//! puts the `sip_*` test binaries in the `sip` group (max-threads 1, .config/nextest.toml),
//! and within this binary (`cargo test` threads) a static lock serialises them. Needs
//! `kamailio` (Debian package; tests/run.sh installs it): missing, the tests fail, never skip.
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sip::{Kamailio, ALICE_HA1, KAMAILIO_ADDR, PROXY, WRONG_HA1};
use common::*;
use serde_json::{json, Value};
use signaling::sip::digest;

/// One Kamailio at a time (fixed port), across the tests of this binary.
static KAMAILIO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BOB_HA1: &str = "229de414bb9576e58e059e37426cf68c";

/// A minimal SIP client on UDP 127.0.0.1 for looking at Kamailio's location table.
struct Probe {
    socket: UdpSocket,
    n: u32,
}

impl Probe {
    fn new() -> Probe {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        Probe { socket, n: 0 }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    /// Sends `request` and returns its final response (retransmitting a few times on UDP).
    fn transact(&mut self, request: &str) -> String {
        let branch = request
            .split("branch=")
            .nth(1)
            .and_then(|r| r.split(['\r', ';']).next())
            .unwrap()
            .to_string();
        for _ in 0..10 {
            self.socket
                .send_to(request.as_bytes(), KAMAILIO_ADDR)
                .unwrap();
            let deadline = Instant::now() + Duration::from_millis(500);
            while Instant::now() < deadline {
                let mut buf = vec![0u8; 65536];
                let Ok((n, _)) = self.socket.recv_from(&mut buf) else {
                    break;
                };
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let status: u16 = text
                    .split(' ')
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                if text.starts_with("SIP/2.0 ") && text.contains(&branch) && status >= 200 {
                    return text;
                }
            }
        }
        panic!("no final answer from kamailio to:\n{request}");
    }

    fn next(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    /// The contacts bound to `user@127.0.0.1`, via an authenticated REGISTER without Contact.
    fn bindings(&mut self, user: &str, ha1: &str) -> Vec<String> {
        let call_id = format!("probe-{}-{}", rand_id(), self.next());
        let port = self.port();
        let request = |cseq: u32, n: u32, auth: Option<String>| {
            format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
                 Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bKprobe{call_id}x{n}\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:{user}@127.0.0.1>;tag=probe\r\n\
                 To: <sip:{user}@127.0.0.1>\r\n\
                 Call-ID: {call_id}\r\n\
                 CSeq: {cseq} REGISTER\r\n\
                 {auth}\
                 Content-Length: 0\r\n\r\n",
                auth = auth
                    .map(|a| format!("Authorization: {a}\r\n"))
                    .unwrap_or_default(),
            )
        };
        let n = self.next();
        let challenge = self.transact(&request(1, n, None));
        assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
        let value = header_values(&challenge, "WWW-Authenticate")
            .into_iter()
            .next()
            .unwrap();
        let challenge = digest::Challenge::parse(&value).unwrap();
        let auth = digest::authorization(
            &challenge,
            user,
            ha1,
            digest::RequestLine {
                method: "REGISTER",
                uri: "sip:127.0.0.1",
                body: b"",
            },
            "probecnonce",
        )
        .unwrap();
        let n = self.next();
        let ok = self.transact(&request(2, n, Some(auth)));
        assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
        header_values(&ok, "Contact")
            .iter()
            .flat_map(|v| split_contacts(v))
            .collect()
    }

    /// The status code of an OPTIONS to `user@127.0.0.1` through Kamailio.
    fn options(&mut self, user: &str) -> u16 {
        let n = self.next();
        let call_id = format!("probe-options-{}-{n}", rand_id());
        let request = format!(
            "OPTIONS sip:{user}@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bKopt{call_id}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:prober@127.0.0.1>;tag=probe\r\n\
             To: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            port = self.port()
        );
        let answer = self.transact(&request);
        answer.split(' ').nth(1).unwrap().parse().unwrap()
    }

    /// Waits until `user` has `n` bindings (Kamailio is asked, never a fixed sleep).
    fn wait_bindings(&mut self, user: &str, ha1: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let b = self.bindings(user, ha1);
            if b.len() == n {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "{user} should have {n} binding(s), has {b:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The entries of a Contact value (`<uri>;params, <uri>;params`): commas inside `<>` stay.
fn split_contacts(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in value.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(value[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim().to_string());
    out.retain(|c| !c.is_empty());
    out
}

fn header_values(message: &str, name: &str) -> Vec<String> {
    message
        .split("\r\n")
        .filter_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

fn add(account: &str, ha1: &str) -> Value {
    json!({"sylkrtc": "account-add", "account": account, "password": ha1,
           "display_name": "Test User", "user_agent": "SylkRTC (sip_registration test)"})
}

fn register(account: &str) -> Value {
    json!({"sylkrtc": "account-register", "account": account})
}

fn state_event(account: &str, state: &str) -> Value {
    json!({"sylkrtc": "account-event", "account": account, "event": "registration-state", "state": state})
}

/// The next `registration-state` event of `account`.
async fn next_state(c: &mut Client, account: &str) -> Value {
    c.wait_for("registration-state", |m| {
        m["event"] == "registration-state" && m["account"] == account
    })
    .await
}

fn gateway(extra: &[&str]) -> Gateway {
    let mut args = vec!["--sip-proxy", PROXY];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// The gateway's SIP port, from its log line `sip on udp ADDR`.
fn sip_port(gw: &Gateway) -> u16 {
    let log = gw.wait_log("sip on udp ");
    let addr: SocketAddr = log
        .split("sip on udp ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    addr.port()
}

async fn registered(c: &mut Client, account: &str) {
    let m = c.request(register(account)).await;
    assert_eq!(m["sylkrtc"], "ack", "{m}");
    // The ack comes before any progress event.
    assert!(
        !c.pending.iter().any(|m| m["event"] == "registration-state"),
        "{:?}",
        c.pending
    );
    assert_eq!(
        next_state(c, account).await,
        state_event(account, "registering")
    );
    assert_eq!(
        next_state(c, account).await,
        state_event(account, "registered")
    );
}

#[tokio::test]
async fn sip_register_with_the_right_ha1_then_unregister() {
    let _one = KAMAILIO.lock().await;
    let kamailio = Kamailio::start(&[]);
    let gw = gateway(&["--log-level", "trace"]);
    let port = sip_port(&gw);
    let mut probe = Probe::new();
    assert_eq!(probe.options("alice"), 404, "alice is not registered yet");

    let mut c = gw.ready_client().await;
    let acct = "alice@127.0.0.1";
    assert_eq!(c.request(add(acct, ALICE_HA1)).await["sylkrtc"], "ack");
    let m = c
        .request(json!({"sylkrtc": "account-fetch-addressbook", "account": acct}))
        .await;
    assert_eq!(m["error"], "Account not authenticated");
    registered(&mut c, acct).await;

    // Kamailio holds our binding: the gateway's SIP port, our own contact parameter.
    let bindings = probe.wait_bindings("alice", ALICE_HA1, 1);
    assert!(
        bindings[0].starts_with(&format!("<sip:alice@127.0.0.1:{port};transport=udp;gw=")),
        "{bindings:?}"
    );
    assert!(bindings[0].contains(";expires="), "{bindings:?}");
    let log = kamailio.log();
    assert!(
        log.contains("REGISTER ok: sip:alice@127.0.0.1 -> <sip:alice@127.0.0.1:"),
        "{log}"
    );
    // Kamailio routes to the contact, and the gateway answers.
    assert_eq!(probe.options("alice"), 200);

    // Messaging no longer says the account is not authenticated: the addressbook comes.
    let m = c
        .request(json!({"sylkrtc": "account-fetch-addressbook", "account": acct}))
        .await;
    assert_eq!(m["sylkrtc"], "ack", "{m}");
    c.wait_for("addressbook", |m| m["event"] == "addressbook-fetched")
        .await;

    // account-unregister: acked, no event, the binding goes.
    let m = c
        .request(json!({"sylkrtc": "account-unregister", "account": acct}))
        .await;
    assert_eq!(m["sylkrtc"], "ack");
    probe.wait_bindings("alice", ALICE_HA1, 0);
    assert_eq!(probe.options("alice"), 404);
    c.expect_silence(Duration::from_millis(300)).await;
    assert!(c.pending.is_empty(), "{:?}", c.pending);
    gw.wait_log("sip unregistered");

    // The HA1 appears nowhere in the log, even at trace level.
    let log = gw.log();
    assert!(!log.contains(ALICE_HA1), "the HA1 is in the log");
}

#[tokio::test]
async fn sip_register_with_a_wrong_ha1_fails_with_the_registrar_reason() {
    let _one = KAMAILIO.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = gateway(&[]);
    let mut c = gw.ready_client().await;
    let acct = "alice@127.0.0.1";
    assert_eq!(c.request(add(acct, WRONG_HA1)).await["sylkrtc"], "ack");
    let m = c.request(register(acct)).await;
    assert_eq!(m["sylkrtc"], "ack");
    assert_eq!(
        next_state(&mut c, acct).await,
        state_event(acct, "registering")
    );
    assert_eq!(
        next_state(&mut c, acct).await,
        json!({"sylkrtc": "account-event", "account": acct, "event": "registration-state",
               "state": "failed", "reason": "401 Unauthorized"})
    );
    let m = c
        .request(json!({"sylkrtc": "account-fetch-addressbook", "account": acct}))
        .await;
    assert_eq!(m["error"], "Account not authenticated");
    let mut probe = Probe::new();
    assert!(probe.bindings("alice", ALICE_HA1).is_empty());
    // Unknown accounts are still refused.
    let m = c.request(register("nobody@127.0.0.1")).await;
    assert_eq!(
        m["error"],
        "Unknown account specified for register: nobody@127.0.0.1"
    );
}

#[tokio::test]
async fn sip_same_account_on_two_connections_has_two_bindings() {
    let _one = KAMAILIO.lock().await;
    let _kamailio = Kamailio::start(&["-A", "WITH_MULTI_CONTACT"]);
    let gw = gateway(&[]);
    let mut probe = Probe::new();
    let acct = "alice@127.0.0.1";
    let mut a = gw.ready_client().await;
    let mut b = gw.ready_client().await;
    for c in [&mut a, &mut b] {
        assert_eq!(c.request(add(acct, ALICE_HA1)).await["sylkrtc"], "ack");
        registered(c, acct).await;
    }
    // Bindings without their remaining `;expires=` (Kamailio counts it down every second).
    let contacts = |bindings: Vec<String>| -> Vec<String> {
        bindings
            .iter()
            .map(|b| b.split(";expires=").next().unwrap_or(b).to_string())
            .collect()
    };
    let before = contacts(probe.wait_bindings("alice", ALICE_HA1, 2));
    assert_ne!(before[0], before[1]);
    assert_eq!(probe.options("alice"), 200);

    // Registering again on a replaces a's binding (a new contact) and leaves b's alone.
    registered(&mut a, acct).await;
    // The new binding exists once `registered` came: two bindings now means the old is gone.
    let both = contacts(probe.wait_bindings("alice", ALICE_HA1, 2));
    let kept: Vec<_> = both.iter().filter(|c| before.contains(c)).collect();
    assert_eq!(kept.len(), 1, "before {before:?}, after {both:?}");

    // Closing b removes b's binding only.
    b.ws.close(None).await.unwrap();
    let left = contacts(probe.wait_bindings("alice", ALICE_HA1, 1));
    assert!(both.contains(&left[0]), "{left:?} not among {both:?}");
    assert_eq!(probe.options("alice"), 200);

    // account-remove on a removes the other.
    let m = a
        .request(json!({"sylkrtc": "account-remove", "account": acct}))
        .await;
    assert_eq!(m["sylkrtc"], "ack");
    probe.wait_bindings("alice", ALICE_HA1, 0);
    assert_eq!(probe.options("alice"), 404);
}

#[tokio::test]
async fn sip_register_over_tcp() {
    let _one = KAMAILIO.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", "sip:127.0.0.1:5060;transport=tcp"]);
    let port = sip_port(&gw);
    let mut probe = Probe::new();
    let mut c = gw.ready_client().await;
    let acct = "alice@127.0.0.1";
    assert_eq!(c.request(add(acct, ALICE_HA1)).await["sylkrtc"], "ack");
    registered(&mut c, acct).await;
    let bindings = probe.wait_bindings("alice", ALICE_HA1, 1);
    assert!(
        bindings[0].starts_with(&format!("<sip:alice@127.0.0.1:{port};transport=tcp;gw=")),
        "{bindings:?}"
    );
    // Kamailio reaches the contact over TCP, on the gateway's TCP listener.
    assert_eq!(probe.options("alice"), 200);
    let m = c
        .request(json!({"sylkrtc": "account-remove", "account": acct}))
        .await;
    assert_eq!(m["sylkrtc"], "ack");
    probe.wait_bindings("alice", ALICE_HA1, 0);
}

#[tokio::test]
async fn sip_closing_a_connection_unregisters_all_its_accounts() {
    let _one = KAMAILIO.lock().await;
    let _kamailio = Kamailio::start(&[]);
    let gw = gateway(&[]);
    let mut probe = Probe::new();
    let mut c = gw.ready_client().await;
    for (acct, ha1) in [("alice@127.0.0.1", ALICE_HA1), ("bob@127.0.0.1", BOB_HA1)] {
        assert_eq!(c.request(add(acct, ha1)).await["sylkrtc"], "ack");
        registered(&mut c, acct).await;
    }
    probe.wait_bindings("alice", ALICE_HA1, 1);
    probe.wait_bindings("bob", BOB_HA1, 1);

    c.ws.close(None).await.unwrap();
    gw.wait_log("unregistering the connection's accounts");
    probe.wait_bindings("alice", ALICE_HA1, 0);
    probe.wait_bindings("bob", BOB_HA1, 0);
}

#[tokio::test]
async fn sip_registration_is_refreshed_before_it_expires() {
    let _one = KAMAILIO.lock().await;
    let kamailio = Kamailio::start(&[]);
    // Kamailio's min_expires is 10 s: the gateway refreshes at 3/4 of it.
    let gw = gateway(&["--sip-register-expires", "10"]);
    let port = sip_port(&gw);
    let mut probe = Probe::new();
    let mut c = gw.ready_client().await;
    let acct = "alice@127.0.0.1";
    assert_eq!(c.request(add(acct, ALICE_HA1)).await["sylkrtc"], "ack");
    registered(&mut c, acct).await;
    let registered_at = Instant::now();
    let first = probe.wait_bindings("alice", ALICE_HA1, 1);
    assert!(
        first[0].contains(";expires=10") || first[0].contains(";expires=9"),
        "{first:?}"
    );
    // Kamailio logs each saved REGISTER with its Contact (our probes have none).
    let ours = format!("REGISTER ok: sip:alice@127.0.0.1 -> <sip:alice@127.0.0.1:{port};");
    let oks = || kamailio.log().matches(&ours).count();
    // Kamailio's log line can come a moment after the binding is visible.
    let deadline = Instant::now() + WAIT;
    while oks() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(oks(), 1);
    // A refresh within the lifetime...
    while oks() < 2 {
        assert!(
            registered_at.elapsed() < Duration::from_secs(10),
            "no refresh within the 10 s lifetime:\n{}",
            kamailio.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...so the binding outlives its first lifetime, and the client saw no new event.
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(registered_at.elapsed())).await;
    let later = probe.wait_bindings("alice", ALICE_HA1, 1);
    assert_eq!(
        first[0].split(";expires=").next(),
        later[0].split(";expires=").next()
    );
    assert_eq!(probe.options("alice"), 200);
    c.expect_silence(Duration::from_millis(100)).await;
    assert!(c.pending.is_empty(), "{:?}", c.pending);
}

#[tokio::test]
async fn sip_register_without_proxy_resolves_the_domain() {
    // No proxy: the account's domain is looked up (RFC 3263). An `.invalid` domain never
    // resolves (RFC 6761, answered without a query): the request fails, no event follows.
    let gw = Gateway::start(&[]);
    gw.wait_log("no outbound proxy");
    let mut c = gw.ready_client().await;
    let acct = "alice@gw-test.invalid";
    assert_eq!(c.request(add(acct, ALICE_HA1)).await["sylkrtc"], "ack");
    let m = c.request(register(acct)).await;
    assert_eq!(m["error"], "DNS lookup error: no results found");
    c.expect_silence(Duration::from_millis(300)).await;
    assert!(c.pending.is_empty(), "{:?}", c.pending);
}

#[test]
fn sip_bad_settings_fail_at_start_and_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
            .args(["--listen", "127.0.0.1:0", "--media-port", "0", "--no-tls"])
            .args(["--data-dir", data_dir])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    for bad in [
        "sip:127.0.0.1:99999",
        "sip:alice@127.0.0.1",
        "sip:127.0.0.1;transport=sctp",
        "http://proxy",
    ] {
        let (code, err) = run(&["--sip-proxy", bad]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("sip_proxy"), "{bad}: {err}");
    }
    let (code, err) = run(&["--sip-listen", "nowhere"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--sip-listen"), "{err}");
    // A taken port stops the start too, naming the setting.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run(&["--sip-listen", &addr]);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("sip_listen"), "{err}");
}
