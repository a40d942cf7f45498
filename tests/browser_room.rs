//! Three real headless Chromium participants (Debian `chromium`, fake camera and microphone) in
//! one video room, through a small sylkRTC-2 test page (tests/browser/room.html) driven by
//! playwright-core (tests/browser/room_test.js): each one decodes the others' video and receives
//! their audio; then one tab closes abruptly and the other two get `publishers-left` within the
//! ICE consent timeout (5 s here).
//!
//! Needs `chromium` (or `CHROMIUM=/path`), `node` and playwright-core in
//! `$PEERS_TOOLS/node_modules` (default `target/peers-tools`); tests/run.sh installs them. When
//! they are missing this test fails: it does not skip. Screenshots of the pages are written to
//! `target/test-output/browser_room/`.
//!
//! Network rule (shared peers.md §1): the test thread first moves into a new, unnamed network
//! namespace with only `lo` up (`unshare(CLONE_NEWNET)` affects the calling thread, and the
//! gateway, node and Chromium started from it inherit it), so the browsers cannot reach
//! anything but 127.0.0.1. The namespace disappears with its processes. Where namespaces cannot
//! be created (not root, no CAP_SYS_ADMIN, no `ip`), it says so and runs on the host network:
//! the gateway still advertises only 127.0.0.1 and the page uses `iceServers: []`.
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Gateway;

const CONSENT_TIMEOUT_S: &str = "5";
/// The whole node run: browser launch, three joins, media, close, checks (~5 s normally).
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peers_tools() -> PathBuf {
    match std::env::var_os("PEERS_TOOLS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo().join("target").join("peers-tools"),
    }
}

fn chromium() -> PathBuf {
    match std::env::var_os("CHROMIUM") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/chromium"),
    }
}

/// Panics with an install hint when a needed peer is missing (never skips).
fn require_peers(tools: &Path, chromium: &Path) {
    let hint = "run tests/run.sh (it installs the test peers), or: apt-get install chromium \
                fonts-liberation; cd target/peers-tools && npm init -y && npm install \
                playwright-core@1.65.1 (PEERS_TOOLS and CHROMIUM override the locations)";
    assert!(
        chromium.is_file(),
        "Chromium not found at {} — {hint}",
        chromium.display()
    );
    let pw = tools.join("node_modules").join("playwright-core");
    assert!(
        pw.join("package.json").is_file(),
        "playwright-core not found at {} — {hint}",
        pw.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node not found on PATH (Node >= 20 is needed by playwright-core): {node:?}"
    );
}

/// Runs `cmd`, killing it after `timeout`; returns (success, stdout, stderr).
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> (bool, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_t.join().unwrap();
    let mut stderr = err_t.join().unwrap();
    if status.is_none() {
        stderr.push_str(&format!("\n(killed after {timeout:?})"));
    }
    (status.is_some_and(|s| s.success()), stdout, stderr)
}

extern "C" {
    /// unshare(2) from the C library that std already links.
    fn unshare(flags: std::os::raw::c_int) -> std::os::raw::c_int;
}
const CLONE_NEWNET: std::os::raw::c_int = 0x4000_0000;

/// Moves the calling thread (and the processes it starts from now on) into a new network
/// namespace with only loopback up. Err(reason) when that is not possible here.
fn seal_network() -> Result<(), String> {
    // `ip` brings lo up in the new namespace: without it, stay on the host network.
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        other => return Err(format!("`ip` (iproute2) not usable: {other:?}")),
    }
    // SAFETY: unshare takes a flag word and touches only this thread's namespace membership.
    if unsafe { unshare(CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    // From here on there is no way back to the host namespace: failures panic.
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .output()
        .expect("ip link set lo up");
    assert!(
        up.status.success(),
        "ip link set lo up in the new namespace: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    // Checked from a child process: only lo, with 127.0.0.1.
    let addrs = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .expect("ip addr show");
    let addrs = String::from_utf8_lossy(&addrs.stdout).to_string();
    if !addrs.contains("127.0.0.1/8") || addrs.lines().any(|l| !l.contains(" lo ")) {
        panic!("new network namespace is not loopback-only:\n{addrs}");
    }
    Ok(())
}

/// The last `lines` lines, without the DTLS ClientHello extension warnings (many per handshake).
fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s
        .lines()
        .filter(|l| !l.contains("Unsupported Extension Type"))
        .collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn browser_room_three_chromium_participants() {
    let tools = peers_tools();
    let chromium = chromium();
    require_peers(&tools, &chromium);
    match seal_network() {
        Ok(()) => println!("network: new namespace, loopback only"),
        Err(why) => println!(
            "network: could not create a network namespace ({why}); running on the host \
             network (the gateway still advertises only 127.0.0.1)"
        ),
    }

    let gw = Gateway::start(&["--ice-consent-timeout", CONSENT_TIMEOUT_S]);
    let shots = repo()
        .join("target")
        .join("test-output")
        .join("browser_room");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests").join("browser").join("room_test.js"))
        .arg(gw.ws_url())
        .env("NODE_PATH", tools.join("node_modules"))
        .env("CHROMIUM", &chromium)
        .env("CONSENT_TIMEOUT", CONSENT_TIMEOUT_S)
        .env("SHOT_DIR", &shots);
    let (ok, stdout, stderr) = run_with_timeout(cmd, NODE_TIMEOUT);
    let log = gw.log();
    // Which way the gateway learnt about the closed tab (WebSocket close or consent expiry).
    let leaving: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("left the room") || l.contains("consent") || l.contains("closed"))
        .filter(|l| !l.contains("rtc_ice::") && !l.contains("rtc::peer_connection"))
        .collect();
    println!("{stdout}");
    println!("gateway, leaving:\n{}", leaving.join("\n"));
    assert!(
        ok,
        "browser room test failed\n--- node stderr:\n{}\n--- node stdout:\n{}\n--- gateway log (tail):\n{}",
        tail(&stderr, 60),
        stdout,
        tail(&log, 150)
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("node printed JSON");
    assert_eq!(summary["ok"], true, "{summary}");
    for user in ["alice", "bob"] {
        let ms = summary["closed"]["publishers_left_ms"][user]
            .as_f64()
            .unwrap_or_else(|| panic!("no publishers-left time for {user}: {summary}"));
        assert!(ms <= 5000.0, "{user} told after {ms} ms");
    }
}
