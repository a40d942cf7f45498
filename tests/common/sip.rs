//! Real SIP peers for the SIP tests: Kamailio (registrar + proxy) and SIPp, started from
//! `../shared/peers` as peers.md describes, with their output kept for assertions.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::WAIT;

pub const KAMAILIO_ADDR: &str = "127.0.0.1:5060";
/// Kamailio's TLS listener ([`Kamailio::start_tls`]).
pub const KAMAILIO_TLS_ADDR: &str = "127.0.0.1:5061";
pub const PROXY: &str = "sip:127.0.0.1:5060;transport=udp";
pub const ALICE: &str = "alice@127.0.0.1";
/// HA1 = md5(user:127.0.0.1:password) of the shared test user alice (peers.md §3).
pub const ALICE_HA1: &str = "2edb2c1af97b498960b7f50592ec157a";
pub const WRONG_HA1: &str = "00000000000000000000000000000000";
pub const BOB: &str = "bob@127.0.0.1";
/// The SIPp callee's SIP port (registered as bob's contact) and RTP port.
pub const UAS_PORT: &str = "5070";
pub const UAS_RTP_PORT: &str = "17000";

pub fn shared_peers() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/peers")
}

/// A SIPp scenario of the shared peers (`uas_answer.xml`, `register.xml`).
pub fn shared_scenario(name: &str) -> String {
    let path = shared_peers().join("sipp").join(name);
    assert!(path.is_file(), "{} missing", path.display());
    path.display().to_string()
}

/// A SIPp scenario of this repository (tests/sip/).
pub fn own_scenario(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sip")
        .join(name);
    assert!(path.is_file(), "{} missing", path.display());
    path.display().to_string()
}

/// A process whose stdout and stderr are collected by threads.
pub fn collect_output(child: &mut Child) -> Arc<Mutex<String>> {
    collect_output_joinable(child).0
}

/// As [`collect_output`], with the reader threads (they end when the process's pipes close).
pub fn collect_output_joinable(
    child: &mut Child,
) -> (Arc<Mutex<String>>, Vec<std::thread::JoinHandle<()>>) {
    let log = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    let streams: Vec<Box<dyn Read + Send>> = vec![
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for stream in streams {
        let log = log.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        }));
    }
    (log, readers)
}

pub struct Kamailio {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub _dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts Kamailio on a fresh run directory and waits until it accepts TCP on 5060.
    pub fn start(options: &[&str]) -> Kamailio {
        let addr: SocketAddr = KAMAILIO_ADDR.parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
            "something already listens on {KAMAILIO_ADDR}; a stale kamailio? (`systemctl disable --now kamailio`)"
        );
        let script = shared_peers().join("kamailio/start.sh");
        assert!(script.is_file(), "{} missing", script.display());
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("sh")
            .arg(&script)
            .arg(dir.path())
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start kamailio ({e}); run tests/run.sh, which installs it")
            });
        Kamailio::listening(child, dir, addr)
    }

    /// The Kamailio started as `child` (run directory `dir`), once it accepts TCP on `addr`.
    fn listening(mut child: Child, dir: tempfile::TempDir, addr: SocketAddr) -> Kamailio {
        let log = collect_output(&mut child);
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "kamailio exited ({status}); is it installed (with kamailio-tls-modules)? log:\n{}",
                    log.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "kamailio did not listen on {addr} in time; log:\n{}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Kamailio {
            child,
            log,
            _dir: dir,
        }
    }

    /// As [`Kamailio::start`], with TLS too on 127.0.0.1:5061 (the `tls` module of
    /// `kamailio-tls-modules`), serving `cert` and `key` (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> Kamailio {
        // A Kamailio of an earlier test may still be going away.
        let deadline = Instant::now() + WAIT;
        for port in [KAMAILIO_ADDR, KAMAILIO_TLS_ADDR] {
            let addr: SocketAddr = port.parse().unwrap();
            while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                assert!(
                    Instant::now() < deadline,
                    "something still listens on {addr}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let shared = shared_peers().join("kamailio");
        let cfg = std::fs::read_to_string(shared.join("kamailio.cfg")).unwrap();
        let tls_cfg = dir.path().join("tls.cfg");
        std::fs::write(
            &tls_cfg,
            format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
                 private_key = {}\ncertificate = {}\n\n[client:default]\nverify_certificate = no\n\
                 require_certificate = no\n",
                key.display(),
                cert.display()
            ),
        )
        .unwrap();
        let cfg = cfg
            .replacen(
                "listen=tcp:127.0.0.1:5060\n",
                // tcp_accept_aliases: requests for a contact registered over TLS go back
                // over the registration's connection (the Via's `;alias`, RFC 5923).
                "listen=tcp:127.0.0.1:5060\nlisten=tls:127.0.0.1:5061\nenable_tls=yes\ntcp_accept_aliases=yes\n",
                1,
            )
            .replacen(
                "loadmodule \"corex.so\"\n",
                &format!(
                    "loadmodule \"corex.so\"\nloadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}\")\n",
                    tls_cfg.display()
                ),
                1,
            );
        assert!(
            cfg.contains("tls.so") && cfg.contains("listen=tls:"),
            "kamailio.cfg changed"
        );
        let cfg_path = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        let status = Command::new("cp")
            .arg("-r")
            .arg(shared.join("dbtext"))
            .arg(run.join("dbtext"))
            .status()
            .unwrap();
        assert!(status.success());
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(&cfg_path)
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-Y"])
            .arg(&run)
            .arg("-P")
            .arg(run.join("kamailio.pid"))
            .arg("-A")
            .arg(format!("DBURL=\"text://{}\"", run.join("dbtext").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start kamailio ({e}); run tests/run.sh"));
        Kamailio::listening(child, dir, KAMAILIO_TLS_ADDR.parse().unwrap())
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM: the main process takes its children down (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The next test starts only when the port is free again.
        let addr: SocketAddr = KAMAILIO_ADDR.parse().unwrap();
        while Instant::now() < deadline
            && TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One SIPp run, in a temporary working directory.
pub struct Sipp {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    pub _dir: tempfile::TempDir,
}

impl Sipp {
    pub fn spawn(args: &[&str]) -> Sipp {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("sipp")
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start sipp ({e}); run tests/run.sh, which installs it")
            });
        let (log, readers) = collect_output_joinable(&mut child);
        Sipp {
            child,
            log,
            readers,
            _dir: dir,
        }
    }

    /// A callee on [`UAS_PORT`] running `scenario` for one call (RTP echo on
    /// [`UAS_RTP_PORT`]).
    /// A SIPp caller (bob, credentials for Kamailio's challenge) of alice through Kamailio,
    /// from 127.0.0.1:5072 with media on 16000, running `scenario` once.
    pub fn caller(scenario: &str) -> Sipp {
        Sipp::spawn(&[
            KAMAILIO_ADDR,
            "-sf",
            scenario,
            "-s",
            "alice",
            "-key",
            "caller",
            "bob",
            "-au",
            "bob",
            "-ap",
            "bobpw",
            "-i",
            "127.0.0.1",
            "-p",
            "5072",
            "-mi",
            "127.0.0.1",
            "-mp",
            "16000",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "40s",
        ])
    }

    pub fn callee(scenario: &str) -> Sipp {
        let sipp = Sipp::spawn(&[
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            UAS_PORT,
            "-mi",
            "127.0.0.1",
            "-mp",
            UAS_RTP_PORT,
            "-rtp_echo",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "40s",
        ]);
        // Ready once SIPp holds its SIP port (binding it ourselves then fails).
        let deadline = Instant::now() + WAIT;
        while std::net::UdpSocket::bind(format!("127.0.0.1:{UAS_PORT}")).is_ok() {
            assert!(
                Instant::now() < deadline,
                "SIPp never bound port {UAS_PORT}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        sipp
    }

    /// Waits (in a blocking thread) for the exit code.
    pub async fn exit_code(mut self, limit: Duration) -> (Option<i32>, String) {
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + limit;
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    // The whole output: the readers end when the exited process's pipes close.
                    for reader in std::mem::take(&mut self.readers) {
                        let _ = reader.join();
                    }
                    return (status.code(), self.log.lock().unwrap().clone());
                }
                if Instant::now() >= deadline {
                    return (None, self.log.lock().unwrap().clone());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap()
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers bob at Kamailio with SIPp (REGISTER, 401, REGISTER with credentials), Contact
/// pointing at the SIPp callee's port (peers.md §4: one SIPp cannot register and then take
/// the INVITE).
pub async fn register_bob() {
    let sipp = Sipp::spawn(&[
        KAMAILIO_ADDR,
        "-sf",
        &shared_scenario("register.xml"),
        "-s",
        "bob",
        "-au",
        "bob",
        "-ap",
        "bobpw",
        "-i",
        "127.0.0.1",
        "-p",
        "5073",
        "-m",
        "1",
        "-key",
        "contact_port",
        UAS_PORT,
        "-nostdin",
        "-timeout",
        "10s",
    ]);
    let (code, log) = sipp.exit_code(WAIT).await;
    assert_eq!(code, Some(0), "bob's registration failed:\n{log}");
}

/// Registers `account` (added on `c` already) at Kamailio; returns at `registered`.
pub async fn register(c: &mut super::Client, account: &str) {
    let ack = c
        .request(serde_json::json!({"sylkrtc": "account-register", "account": account}))
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    c.wait_for("registered", |m| {
        m["event"] == "registration-state" && m["account"] == account && m["state"] == "registered"
    })
    .await;
}

/// Adds `account` (HA1 `ha1`) on `c` and registers it at Kamailio; returns at `registered`.
pub async fn add_and_register(c: &mut super::Client, account: &str, ha1: &str) {
    let ack = c
        .request(
            serde_json::json!({"sylkrtc": "account-add", "account": account,
                                    "password": ha1, "display_name": "Alice"}),
        )
        .await;
    assert_eq!(ack["sylkrtc"], "ack", "{ack}");
    register(c, account).await;
}

/// A baresip phone of the shared peers (`bob`: SIP 5082, ctrl_tcp 4445, auto-answer, 880 Hz
/// sine), registered at Kamailio.
pub struct Baresip {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub ctrl_port: u16,
    pub _dir: tempfile::TempDir,
}

impl Baresip {
    /// Starts `name` (alice or bob) and waits until Kamailio answered its REGISTER.
    pub fn start(name: &str) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let script = shared_peers().join("baresip/start.sh");
        let child = Command::new("sh")
            .arg(&script)
            .arg(name)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start baresip ({e}); run tests/run.sh"));
        Baresip::registered(name, child, dir)
    }

    /// As [`Baresip::start`], with video: VP8 and a test pattern from `fakevideo` (320x240,
    /// 15 fps), which it sends on any call whose SDP has a video line, also one a
    /// re-INVITE adds.
    pub fn start_video(name: &str) -> Baresip {
        Baresip::start_with(
            name,
            "module\tvp8.so\nmodule\tfakevideo.so\nvideo_source\tfakevideo,nil\n\
             video_size\t320x240\nvideo_bitrate\t300000\nvideo_fps\t15\n",
            "",
        )
    }

    /// As [`Baresip::start`], with SDES-SRTP: `mediaenc` is `srtp` (RTP/AVP with keys, plain
    /// taken too) or `srtp-mand` (RTP/SAVP only).
    pub fn start_srtp(name: &str, mediaenc: &str) -> Baresip {
        Baresip::start_with(name, "module\tsrtp.so\n", &format!(";mediaenc={mediaenc}"))
    }

    /// The shared peer `name` with `config` lines added to its config (replacing the lines of
    /// the same keys) and `account_params` added to its account line (replacing a parameter
    /// of the same name).
    pub fn start_with(name: &str, config: &str, account_params: &str) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(name);
        let status = Command::new("cp")
            .arg("-r")
            .arg(shared_peers().join("baresip").join(name))
            .arg(&conf)
            .status()
            .expect("cp");
        assert!(status.success(), "cannot copy baresip's {name} config");
        let audio = conf.join("audio");
        std::fs::create_dir_all(&audio).unwrap();
        let original = std::fs::read_to_string(conf.join("config")).unwrap();
        let replaced: Vec<&str> = config
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|k| *k != "module")
            .collect();
        let mut lines: String = original
            .lines()
            .filter(|l| !l.starts_with("snd_path"))
            .filter(|l| !replaced.contains(&l.split_whitespace().next().unwrap_or("")))
            .map(|l| format!("{l}\n"))
            .collect();
        lines.push_str(&format!("snd_path\t{}\n{config}", audio.display()));
        std::fs::write(conf.join("config"), lines).unwrap();
        if !account_params.is_empty() {
            let accounts = std::fs::read_to_string(conf.join("accounts")).unwrap();
            let accounts: String = accounts
                .lines()
                .map(|l| {
                    if l.starts_with('<') {
                        // A parameter given again replaces the line's own.
                        let names: Vec<&str> = account_params
                            .split(';')
                            .filter_map(|p| p.split('=').next())
                            .filter(|n| !n.is_empty())
                            .collect();
                        let kept: Vec<&str> = l
                            .split(';')
                            .enumerate()
                            .filter(|(i, p)| {
                                *i == 0 || !names.contains(&p.split('=').next().unwrap_or(""))
                            })
                            .map(|(_, p)| p)
                            .collect();
                        format!("{}{account_params}\n", kept.join(";"))
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(conf.join("accounts"), accounts).unwrap();
        }
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start baresip ({e}); run tests/run.sh"));
        Baresip::registered(name, child, dir)
    }

    /// The phone `name` started as `child` (config in `dir`), once Kamailio answered its
    /// REGISTER.
    fn registered(name: &str, mut child: Child, dir: tempfile::TempDir) -> Baresip {
        let log = collect_output(&mut child);
        let phone = Baresip {
            child,
            log,
            ctrl_port: if name == "alice" { 4444 } else { 4445 },
            _dir: dir,
        };
        phone.wait_log(&format!("{name}@127.0.0.1: {{0/UDP/v4}} 200 OK"));
        phone
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`; returns the log.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT * 2;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "baresip never logged {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One ctrl_tcp command (`dial sip:...`, `hangup`); returns what bctl.py printed.
    pub fn command(&self, command: &str, params: &str) -> String {
        let out = Command::new("python3")
            .arg(shared_peers().join("baresip/bctl.py"))
            .arg(self.ctrl_port.to_string())
            .arg(command)
            .arg(params)
            .output()
            .expect("python3 bctl.py");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "bctl {command} {params}: {text}");
        text
    }

    /// The WAV of what baresip played in its last call (`dump-<time>-dec.wav` in its sound
    /// folder), once it is written.
    pub fn received_wav(&self, name: &str) -> std::path::PathBuf {
        let dir = self._dir.path().join(name).join("audio");
        let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        found.retain(|p| p.to_string_lossy().ends_with("-dec.wav"));
        found.sort();
        found
            .pop()
            .unwrap_or_else(|| panic!("no -dec.wav in {}:\n{}", dir.display(), self.log()))
    }

    /// The audio RTP packets baresip counted at the end of its last call (`rtp_stats`):
    /// (sent, received). Waits for the statistics.
    pub fn rtp_packets(&self) -> (u64, u64) {
        self.stream_packets("audio")
    }

    /// The RTP packets of the last call's `stream` (`audio` or `video`) as baresip counted
    /// them (`rtp_stats`): (sent, received).
    pub fn stream_packets(&self, stream: &str) -> (u64, u64) {
        let log = self.wait_log("packets:");
        let lines: Vec<&str> = log.lines().collect();
        let table = lines
            .iter()
            .rposition(|l| l.starts_with(stream) && l.contains("Transmit:"))
            .unwrap_or_else(|| panic!("no {stream} statistics in:\n{log}"));
        let line = lines[table..]
            .iter()
            .find(|l| l.trim_start().starts_with("packets:"))
            .unwrap();
        let n: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        assert!(n.len() >= 2, "unexpected RTP statistics line {line:?}");
        (n[0], n[1])
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SIPp phone (bob) that answers 200 to `count` MESSAGEs on [`UAS_PORT`] and traces them.
pub struct Sink {
    sipp: Sipp,
    trace: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    pub fn start(count: usize) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("messages.log");
        let sipp = Sipp::spawn(&[
            "-sf",
            &own_scenario("uas_message_sink.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            UAS_PORT,
            "-m",
            &count.to_string(),
            "-nostdin",
            "-timeout",
            "30s",
            "-trace_msg",
            "-message_file",
            &trace.display().to_string(),
        ]);
        Sink {
            sipp,
            trace,
            _dir: dir,
        }
    }

    /// Waits until SIPp took all its messages, and returns the MESSAGE requests it received.
    pub async fn received(self) -> Vec<String> {
        let (code, log) = self.sipp.exit_code(WAIT * 2).await;
        let trace = std::fs::read_to_string(&self.trace).unwrap_or_default();
        assert_eq!(
            code,
            Some(0),
            "the phone did not get its messages:\n{log}\n{trace}"
        );
        trace
            .split("----------------------------------------------- ")
            .filter(|block| block.contains("message received"))
            .filter_map(|block| block.find("MESSAGE sip:").map(|i| block[i..].to_string()))
            .collect()
    }
}

/// The next `session-event` of `session` (in arrival order).
pub async fn next_event(c: &mut super::Client, session: &str) -> serde_json::Value {
    c.wait_for(&format!("session-event of {session}"), |m| {
        m["sylkrtc"] == "session-event" && m["session"] == session
    })
    .await
}

/// Asserts the next event of `session` is `state` and returns it.
pub async fn expect_state(c: &mut super::Client, session: &str, state: &str) -> serde_json::Value {
    let e = next_event(c, session).await;
    assert_eq!(e["event"], "state", "{e}");
    assert_eq!(e["state"], state, "expected {state}, got {e}");
    e
}

// --- what a phone heard (baresip's recordings) ---------------------------------------------

/// The first channel of a 16-bit PCM WAV as floats, with its sample rate.
pub fn read_wav(path: &std::path::Path) -> (Vec<f32>, u32) {
    let b = std::fs::read(path).expect("wav");
    assert!(
        b.len() > 44 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "not a WAV"
    );
    let (mut at, mut rate, mut channels, mut data) = (12, 0u32, 1usize, None);
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = at + 8;
        if id == b"fmt " {
            channels = usize::from(u16::from_le_bytes([b[body + 2], b[body + 3]]));
            rate = u32::from_le_bytes(b[body + 4..body + 8].try_into().unwrap());
            assert_eq!(u16::from_le_bytes([b[body + 14], b[body + 15]]), 16);
        } else if id == b"data" {
            // A file closed at hangup may still carry a provisional length: take what is there.
            let end = if len == 0 || body + len > b.len() {
                b.len()
            } else {
                body + len
            };
            data = Some(&b[body..end]);
            break;
        }
        at = body + len + (len & 1);
    }
    let data = data.expect("data chunk");
    let samples = data
        .chunks_exact(2 * channels)
        .map(|f| f32::from(i16::from_le_bytes([f[0], f[1]])) / 32768.0)
        .collect();
    (samples, rate)
}

/// The magnitude of `hz` in `x` (Goertzel), relative to full scale.
pub fn tone(x: &[f32], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2).sqrt() / x.len() as f64
}

/// Checks what a phone recorded: some half second has every tone of `heard` (each at least a
/// tenth of the loudest), and its own tone `own` never comes near them.
pub fn assert_heard(wav: &std::path::Path, heard: &[f64], own: f64) {
    let (x, rate) = read_wav(wav);
    let window = rate as usize / 2;
    let mut best: Option<(f64, Vec<f64>, f64)> = None;
    for w in x.chunks_exact(window) {
        let levels: Vec<f64> = heard.iter().map(|hz| tone(w, rate, *hz)).collect();
        let weakest = levels.iter().cloned().fold(f64::INFINITY, f64::min);
        let mine = tone(w, rate, own);
        if best.as_ref().is_none_or(|(b, _, _)| weakest > *b) {
            best = Some((weakest, levels, mine));
        }
    }
    let (weakest, levels, mine) = best.expect("a recording of at least half a second");
    println!(
        "{}: tones {heard:?} at {levels:?}, its own {own} Hz at {mine}",
        wav.display()
    );
    assert!(
        weakest > 0.01,
        "the phone did not hear every tone {heard:?}: {levels:?}"
    );
    assert!(
        mine < weakest / 10.0,
        "the phone heard itself ({own} Hz at {mine}) beside {levels:?}"
    );
}

/// The SIP port of bob's SIPp when it sends (MESSAGEs, reports).
pub const BOB_PORT: &str = "5072";

/// bob's phone sends `scenario` with `keys` to `target` (Kamailio, or the gateway itself as a
/// proxy that forks MESSAGEs to it would) for `service`; waits for success.
pub async fn bob_sends(
    target: &str,
    scenario: &str,
    service: &str,
    keys: &[(&str, &str)],
    count: usize,
) {
    let scenario = own_scenario(scenario);
    let count = count.to_string();
    let mut args = vec![
        target,
        "-sf",
        &scenario,
        "-s",
        service,
        "-i",
        "127.0.0.1",
        "-p",
        BOB_PORT,
        "-m",
        &count,
        "-l",
        "1",
        "-nostdin",
        "-timeout",
        "20s",
    ];
    for (k, v) in keys {
        args.extend_from_slice(&["-key", k, v]);
    }
    let (code, log) = Sipp::spawn(&args).exit_code(super::WAIT * 2).await;
    assert_eq!(code, Some(0), "bob's MESSAGE failed ({scenario}):\n{log}");
}
