//! Test harness: runs the real `sylk-gateway` binary on 127.0.0.1 (port 0, read back from its
//! log) and talks to it with a real WebSocket client (tokio-tungstenite).
#![allow(dead_code)]

pub mod browser;
pub mod engines;
pub mod janus;
pub mod load;
pub mod messaging;
pub mod room;
pub mod sip;
pub mod webrtc_peer;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log: Arc<Mutex<String>>,
    pub tls: bool,
    args: Vec<String>,
}

impl Gateway {
    /// The media (UDP) address, from the log.
    pub fn media_addr(&self) -> SocketAddr {
        let log = self.wait_log("media on udp ");
        let rest = log.split("media on udp ").nth(1).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// Every media shard's UDP port (from the log line `... shards: [p0, p1]`).
    pub fn media_ports(&self) -> Vec<u16> {
        Self::ports_after(&self.wait_log("media on udp "), "media on udp ")
    }

    /// Every media shard's ICE-TCP port (from the log line `ice-tcp on tcp ...`).
    pub fn tcp_ports(&self) -> Vec<u16> {
        Self::ports_after(&self.wait_log("ice-tcp on tcp "), "ice-tcp on tcp ")
    }

    fn ports_after(log: &str, line: &str) -> Vec<u16> {
        let rest = log.split(line).nth(1).unwrap();
        let list = rest.lines().next().unwrap();
        let list = list.rsplit_once('[').unwrap().1.split(']').next().unwrap();
        list.split(',').map(|p| p.trim().parse().unwrap()).collect()
    }

    /// Where a local test sends to reach the media socket: its address, with a wildcard
    /// (the default, every address) replaced by 127.0.0.1.
    pub fn media_target(&self) -> SocketAddr {
        let media = self.media_addr();
        if media.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], media.port()))
        } else {
            media
        }
    }

    /// The SIP (UDP and TCP) address, from the log.
    pub fn sip_addr(&self) -> SocketAddr {
        let log = self.wait_log("sip on udp ");
        let rest = log.split("sip on udp ").nth(1).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// Plain ws on 127.0.0.1 with a fresh data dir, plus `extra` flags.
    pub fn start(extra: &[&str]) -> Gateway {
        let mut args = vec!["--no-tls"];
        args.extend_from_slice(extra);
        Gateway::start_with(&args, None, &[])
    }

    /// TLS (generated certificate) in `data_dir`.
    pub fn start_tls(data_dir: &Path, extra: &[&str]) -> Gateway {
        Gateway::start_with(extra, Some(data_dir.to_path_buf()), &[])
    }

    pub fn start_with(args: &[&str], data_dir: Option<PathBuf>, env: &[(&str, &str)]) -> Gateway {
        let (tmp, data_dir) = match data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        // `--zero-config` (the harness's, not the gateway's): no flags at all, as `cargo run`
        // does, with the working directory in the fresh data dir (so `data/` lands there).
        let zero = args.contains(&"--zero-config");
        let args: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| *a != "--zero-config")
            .collect();
        let args = &args[..];
        let mut full: Vec<String> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            // Any free media port (tests run in parallel), loopback candidates only.
            "--media-port".into(),
            "0".into(),
            "--advertise-ip".into(),
            "127.0.0.1".into(),
            "--sip-listen".into(),
            "127.0.0.1:0".into(),
            // Tests run in parallel: any free port for the admin listener too.
            "--admin-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if zero {
            full.clear();
        }
        if args.contains(&"--advertise-ip") {
            // The caller's addresses instead (a relay in front of the media port).
            if let Some(i) = full.iter().position(|a| a == "--advertise-ip") {
                full.drain(i..i + 2);
            }
        }
        if args.contains(&"--admin-listen") {
            if let Some(i) = full.iter().position(|a| a == "--admin-listen") {
                full.drain(i..i + 2);
            }
        }
        if args.contains(&"--listen") {
            // The caller's address instead (a restart on the same port).
            full.drain(0..2);
        }
        full.extend(args.iter().map(|s| s.to_string()));
        let tls = !full.iter().any(|a| a == "--no-tls");
        // SYLK_GATEWAY_BIN: another build of the gateway (the load tool compares builds).
        let bin = std::env::var("SYLK_GATEWAY_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sylk-gateway").to_string());
        let mut cmd = Command::new(bin);
        cmd.args(&full)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // The gateway honours RUST_LOG: one set in the developer's shell must not change what
        // the harness reads from the log ("listening on").
        cmd.env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        if zero {
            cmd.current_dir(&data_dir);
        }
        let mut child = cmd.spawn().expect("spawn sylk-gateway");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    {
                        let mut l = log.lock().unwrap();
                        l.push_str(&line);
                        l.push('\n');
                    }
                    // Reported after the line is in the log, so callers see it there.
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        if let Some(addr) = rest.split_whitespace().next() {
                            if let Ok(a) = addr.parse() {
                                let _ = tx.send(a);
                            }
                        }
                    }
                }
            });
        }
        let addr = match rx.recv_timeout(WAIT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gateway did not start; log:\n{}",
                    log.lock().unwrap().as_str()
                );
            }
        };
        Gateway {
            child,
            addr,
            data_dir,
            _tmp: tmp,
            log,
            tls,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        self.url("/webrtcgateway/ws")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let l = self.log();
            if l.contains(needle) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "log never showed {needle:?}:\n{l}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no cleanup at all), then waits for the process to be gone.
    /// The admin listener's address (from its log line).
    pub fn admin_addr(&self) -> SocketAddr {
        let log = self.wait_log("admin API and /metrics on http://");
        let rest = log
            .split("admin API and /metrics on http://")
            .nth(1)
            .unwrap();
        let addr = rest.split_whitespace().next().unwrap();
        addr.trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap()
    }

    /// The gateway process's id (its CPU and memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "gateway did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn connect(&self) -> Client {
        Client::connect(&self.ws_url(), None).await
    }

    /// Connects and waits for `ready-event`.
    pub async fn ready_client(&self) -> Client {
        let mut c = self.connect().await;
        let ready = c.recv().await.expect("ready-event");
        assert_eq!(ready, json!({"sylkrtc": "ready-event"}));
        c
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub ws: Ws,
    /// Messages that arrived while waiting for something else, oldest first.
    pub pending: std::collections::VecDeque<Value>,
}

impl Client {
    /// Connects with the sylkRTC-2 subprotocol; `tls` gives the client TLS configuration.
    pub async fn connect(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Client {
        let ws = try_connect(url, Some("sylkRTC-2"), tls)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Client {
            ws,
            pending: Default::default(),
        }
    }

    pub async fn send(&mut self, v: &Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send");
    }

    /// The next JSON text message, or None when the connection ended or nothing came in time.
    pub async fn recv(&mut self) -> Option<Value> {
        self.recv_within(WAIT).await
    }

    pub async fn recv_within(&mut self, d: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match msg {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("server sent valid JSON"))
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Ok(Message::Binary(_)) => panic!("server sent a binary frame"),
                Ok(Message::Close(_)) | Err(_) => return None,
            }
        }
    }

    /// Sends a request and returns its answer (ack or error), checking the transaction.
    /// Other messages that arrive meanwhile are kept for [`Client::wait_for`].
    pub async fn request(&mut self, mut v: Value) -> Value {
        let t = format!("t-{}", rand_id());
        v["transaction"] = json!(t);
        self.send(&v).await;
        loop {
            let m = self.recv().await.expect("an answer");
            if m.get("transaction") == Some(&json!(t)) {
                return m;
            }
            self.pending.push_back(m);
        }
    }

    /// The first message (kept or new) for which `pred` holds; others are kept.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.pending.iter().position(&pred) {
            return self.pending.remove(at).unwrap();
        }
        loop {
            let m = self.recv().await.unwrap_or_else(|| {
                panic!(
                    "connection ended or timed out waiting for {what}; kept: {:?}",
                    self.pending
                )
            });
            if pred(&m) {
                return m;
            }
            self.pending.push_back(m);
        }
    }

    /// Waits for a `videoroom-event` of `session` with this `event` (and `state`, if given).
    pub async fn room_event(&mut self, session: &str, event: &str, state: Option<&str>) -> Value {
        let what = format!("videoroom-event {event} {state:?} for {session}");
        self.wait_for(&what, |m| {
            m["sylkrtc"] == "videoroom-event"
                && m["session"] == session
                && m["event"] == event
                && state.is_none_or(|s| m["state"] == s)
        })
        .await
    }

    /// Asserts nothing arrives for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        if let Some(m) = self.recv_within(d).await {
            panic!("expected no message, got {m}");
        }
    }

    /// Waits `d`; fails if an event named `event` arrives meanwhile (or already waits).
    /// Other messages are kept for later.
    pub async fn expect_silence_of(&mut self, event: &str, d: Duration) {
        self.expect_none(event, d, |m| m["event"] == event).await
    }

    /// Waits `d`; fails if a message `what` (matching `pred`) arrives meanwhile (or already
    /// waits). Other messages are kept for later.
    pub async fn expect_none(&mut self, what: &str, d: Duration, pred: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            if let Some(m) = self.pending.iter().find(|m| pred(m)) {
                panic!("expected no {what}, got {m}");
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.recv_within(left).await {
                Some(m) => self.pending.push_back(m),
                None => return,
            }
        }
    }

    /// Waits for the close frame; returns (code, reason).
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("connection not closed in time"),
                Ok(None) => return None,
                Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

pub async fn try_connect(
    url: &str,
    protocol: Option<&str>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request()?;
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    let connector = tls.map(tokio_tungstenite::Connector::Rustls);
    let (ws, _resp) =
        tokio_tungstenite::connect_async_tls_with_config(req, None, false, connector).await?;
    Ok(ws)
}

/// A minimal HTTP/1.1 GET over plain TCP (a gateway run with --no-tls): the whole response.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

pub fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// An MD5 HA1 as sylkrtc.js computes it (md5 of user:realm:password), here a fixed example.
pub const HA1: &str = "b1726872c344b6dc8365b774f8fd6412";
