//! What an operator deploys and runs: Prometheus `/metrics` and the admin API on their own
//! listener (token, listings, ending a participant or a connection, the `status` and `kick`
//! subcommands), the reverse-proxy layout (HTTP on loopback, media on its own address), a room
//! over IPv6 `::1`, STUN/TURN servers in `config.json`, SIGHUP swapping the certificate, and
//! `check-config` / `print-config`.
mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::room::{attach, join_room};
use common::webrtc_peer::Kind;
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(15);

/// One HTTP/1.1 request: (status, body).
async fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

fn token(gw: &Gateway) -> String {
    std::fs::read_to_string(gw.data_dir.join("admin.token"))
        .expect("the generated admin token")
        .trim()
        .to_string()
}

/// The samples of a Prometheus text exposition, checked line by line: `# HELP`/`# TYPE`
/// comments, or `name{labels} value` with a valid name and a number.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        samples.push((series.to_string(), value));
    }
    samples
}

async fn metrics(gw: &Gateway) -> Vec<(String, f64)> {
    let (code, body) = http(gw.admin_addr(), "GET", "/metrics", None).await;
    assert_eq!(code, 200, "{body}");
    parse_prometheus(&body)
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map_or(0.0, |(_, v)| *v)
}

/// Waits until `check` holds for the scraped metrics.
async fn metrics_until(
    gw: &Gateway,
    what: &str,
    check: impl Fn(&[(String, f64)]) -> bool,
) -> Vec<(String, f64)> {
    let deadline = Instant::now() + T;
    loop {
        let m = metrics(gw).await;
        if check(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed {what}: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_a_room_runs() {
    let gw = Gateway::start(&[]);
    let before = metrics(&gw).await;
    assert_eq!(value(&before, "sylk_rooms"), 0.0);
    assert_eq!(value(&before, "sylk_media_rtp_forwarded_total"), 0.0);

    let alice = join_room(&gw, "alice", "metrics@conference.example.com").await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join_room(&gw, "bob", "metrics@conference.example.com").await;
    let (_, sub) = attach(&mut bob, &alice.session.clone()).await;
    sub.wait_received(Kind::Video, 20, T).await.unwrap();

    let m = metrics_until(&gw, "forwarded media", |m| {
        value(m, "sylk_media_rtp_forwarded_total") >= 20.0
    })
    .await;
    assert_eq!(value(&m, "sylk_rooms"), 1.0, "{m:?}");
    assert_eq!(value(&m, "sylk_room_participants"), 2.0);
    assert_eq!(value(&m, "sylk_room_subscriptions"), 1.0);
    assert_eq!(value(&m, "sylk_connections"), 2.0);
    assert_eq!(value(&m, "sylk_accounts"), 2.0);
    assert_eq!(value(&m, "sylk_media_peers"), 3.0);
    for counter in [
        "sylk_media_datagrams_in_total",
        "sylk_media_bytes_in_total",
        "sylk_media_datagrams_out_total",
        "sylk_media_bytes_out_total",
    ] {
        assert!(value(&m, counter) > 0.0, "{counter}: {m:?}");
    }
    assert!(
        m.iter().any(
            |(s, v)| s.starts_with("sylk_media_shard_busy_microseconds_total{shard=") && *v > 0.0
        ),
        "{m:?}"
    );
    // A refused WebSocket (no subprotocol) counts as nothing but a 406; a refusal by a limit
    // is counted by its name.
    drop(bob);
    drop(alice);
    metrics_until(&gw, "the room gone", |m| value(m, "sylk_rooms") == 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_refusals_are_counted() {
    let gw = Gateway::start(&["--limit", "max_connections_per_ip=1"]);
    let _first = gw.ready_client().await;
    let second = try_connect(&gw.ws_url(), Some("sylkRTC-2"), None).await;
    assert!(
        second.is_err(),
        "a second connection from the address was taken"
    );
    let m = metrics(&gw).await;
    assert_eq!(
        value(
            &m,
            "sylk_limit_refusals_total{limit=\"websocket_connections\"}"
        ),
        1.0,
        "{m:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_lists_a_room_and_ends_a_participant_and_a_connection() {
    let gw = Gateway::start(&[]);
    let admin = gw.admin_addr();
    assert!(admin.ip().is_loopback());
    let token = token(&gw);
    // Without the token, or with a wrong one: 401, nothing listed.
    for t in [None, Some("not-the-token-at-all")] {
        let (code, body) = http(admin, "GET", "/admin/rooms", t).await;
        assert_eq!(code, 401, "{body}");
        assert!(!body.contains("participants"));
    }
    let (code, _) = http(admin, "DELETE", "/admin/connections/1", None).await;
    assert_eq!(code, 401);

    let room = "admin@conference.example.com";
    let mut alice = join_room(&gw, "alice", room).await;
    let mut bob = join_room(&gw, "bob", room).await;
    // Alice watches bob (so she is told when he leaves).
    let (_, _from_bob) = attach(&mut alice, &bob.session.clone()).await;
    let (code, body) = http(admin, "GET", "/admin/rooms", Some(&token)).await;
    assert_eq!(code, 200, "{body}");
    let rooms: Value = serde_json::from_str(&body).unwrap();
    let listed = &rooms["rooms"][0];
    assert_eq!(listed["uri"], room, "{rooms}");
    let sessions: Vec<&str> = listed["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["session"].as_str().unwrap())
        .collect();
    assert_eq!(sessions, [alice.session.as_str(), bob.session.as_str()]);
    assert_eq!(listed["participants"][0]["account"], "alice@example.com");

    let (code, body) = http(admin, "GET", "/admin/connections", Some(&token)).await;
    assert_eq!(code, 200);
    let conns: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(conns["connections"].as_array().unwrap().len(), 2, "{conns}");
    assert_eq!(conns["connections"][0]["address"], "127.0.0.1");
    let (code, body) = http(admin, "GET", "/admin/status", Some(&token)).await;
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status["rooms"].clone(), status["participants"].clone()),
        (json!(1), json!(2))
    );

    // The operator ends bob's participation: bob's session is terminated, alice is told.
    let path = format!("/admin/rooms/{room}/participants/{}", bob.session);
    let (code, body) = http(admin, "DELETE", &path, Some(&token)).await;
    assert_eq!(code, 202, "{body}");
    bob.ws
        .room_event(&bob.session, "session-state", Some("terminated"))
        .await;
    let left = alice
        .ws
        .room_event(&alice.session, "publishers-left", None)
        .await;
    assert_eq!(left["publishers"], json!([bob.session]), "{left}");
    // Gone now: 404.
    let (code, _) = http(admin, "DELETE", &path, Some(&token)).await;
    assert_eq!(code, 404);

    // `sylk-gateway status` and `kick` do the same from the command line.
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
            .args(["--data-dir", gw.data_dir.to_str().unwrap()])
            .args(["--admin-listen", &admin.to_string()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = cli(&["status"]);
    assert_eq!(code, Some(0), "{err}");
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["participants"], 1, "{status}");
    let alice_conn = conns["connections"][0]["id"].as_u64().unwrap();
    let (code, _, err) = cli(&["kick", "connection", &alice_conn.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    let closed = alice.ws.closed().await;
    assert_eq!(closed.map(|(code, _)| code), Some(1001));
    let (code, _, err) = cli(&["kick", "connection", "999999"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("404"), "{err}");
}

/// Behind a reverse proxy: HTTP on 127.0.0.1 (the proxy in front), the media socket on an
/// address of its own, which the candidates carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_on_its_own_address_carries_a_room() {
    let gw = Gateway::start(&["--media-listen", "127.0.0.2", "--advertise-ip", "127.0.0.2"]);
    assert_eq!(gw.addr.ip().to_string(), "127.0.0.1");
    assert_eq!(gw.media_addr().ip().to_string(), "127.0.0.2");
    let alice = join_room(&gw, "alice", "proxy@conference.example.com").await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join_room(&gw, "bob", "proxy@conference.example.com").await;
    let (_, sub) = attach(&mut bob, &alice.session.clone()).await;
    sub.wait_received(Kind::Video, 10, T).await.unwrap();
}

/// The default media socket takes both families: an IPv4 peer and the advertised IPv4
/// address on a socket bound to `[::]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_media_socket_is_dual_stack() {
    let gw = Gateway::start(&[]);
    assert_eq!(gw.media_addr().ip().to_string(), "::", "{}", gw.log());
    let alice = join_room(&gw, "alice", "dual@conference.example.com").await;
    let _sending = alice.publisher.start_sending().await.unwrap();
    let mut bob = join_room(&gw, "bob", "dual@conference.example.com").await;
    let (_, sub) = attach(&mut bob, &alice.session.clone()).await;
    sub.wait_received(Kind::Audio, 10, T).await.unwrap();
}

#[tokio::test]
async fn config_json_carries_the_ice_servers_with_fresh_turn_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    std::fs::write(
        &file,
        r#"
        [[ice_servers]]
        urls = ["stun:stun.example.test:3478"]
        [[ice_servers]]
        urls = ["turn:turn.example.test:3478?transport=tcp", "turns:turn.example.test:5349"]
        secret = "north"
        ttl = 3600
        "#,
    )
    .unwrap();
    let gw = Gateway::start(&["--config", file.to_str().unwrap()]);
    let out = http_get(gw.addr, "/webrtcgateway/config.json").await;
    assert!(
        out.to_ascii_lowercase().contains("cache-control: no-store"),
        "{out}"
    );
    let body = out.split_once("\r\n\r\n").unwrap().1;
    let config: Value = serde_json::from_str(body).unwrap();
    // The branding is still there.
    assert!(config["title"].is_string(), "{config}");
    let servers = config["iceServers"].as_array().unwrap();
    assert_eq!(servers[0], json!({"urls": ["stun:stun.example.test:3478"]}));
    let user = servers[1]["username"].as_str().unwrap();
    let (expiry, name) = user.split_once(':').unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 3590..=now + 3610).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert_eq!(name, "sylk");
    let (_, expected) = sylk_gateway::config::ice::turn_rest_credentials("north", expiry, "sylk");
    assert_eq!(servers[1]["credential"], expected);
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn check_config_names_the_bad_setting_and_print_config_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.toml");
    for (text, setting) in [
        ("media_port = \"x\"", "media_port"),
        ("public_url = \"https://x/p\"", "public_url"),
        ("[[ice_servers]]\nurls = [\"turn:x\"]", "ice_servers"),
        ("no_such_setting = 1", "no_such_setting"),
        ("web_config = \"/nonexistent/branding.json\"", "web_config"),
        (
            "tls_certificate = \"/nonexistent/c.pem\"\ntls_private_key = \"/nonexistent/k.pem\"",
            "tls_certificate",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let (code, _, err) = run(&["check-config", "--config", file.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(err.contains(setting), "{text}: {err}");
    }
    std::fs::write(&file, "media_port = 20000\nshutdown_grace = 5\n").unwrap();
    let (code, out, err) = run(&["check-config", "--config", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("configuration OK"));
    // print-config: every setting, and it reads back as the same configuration.
    let (code, printed, err) = run(&["print-config", "--config", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(printed.contains("media_port = 20000"), "{printed}");
    assert!(printed.contains("admin_listen = "), "{printed}");
    let again = dir.path().join("again.toml");
    std::fs::write(&again, &printed).unwrap();
    let (code, reprinted, err) = run(&["print-config", "--config", again.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(reprinted, printed);
}

/// A certificate and key for `name`, written to `dir`; returns the certificate's DER.
fn write_certificate(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.der().to_vec()
}

/// The certificate a TLS handshake with `addr` shows.
async fn served_certificate(addr: SocketAddr) -> Vec<u8> {
    #[derive(Debug)]
    struct Any;
    impl rustls::client::danger::ServerCertVerifier for Any {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(std::sync::Arc::new(Any))
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    conn.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn sighup_swaps_the_certificate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_certificate(dir.path(), "first.example.test");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let gw = Gateway::start_tls(
        dir.path(),
        &[
            "--tls-certificate",
            cert.to_str().unwrap(),
            "--tls-private-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(served_certificate(gw.addr).await, first);
    let second = write_certificate(dir.path(), "second.example.test");
    assert_ne!(first, second);
    let _ = Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status();
    gw.wait_log("certificate reloaded");
    assert_eq!(served_certificate(gw.addr).await, second);
    // A broken file on the next SIGHUP keeps the certificate in use.
    std::fs::write(&cert, "not a certificate").unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status();
    gw.wait_log("certificate not reloaded");
    assert_eq!(served_certificate(gw.addr).await, second);
}
