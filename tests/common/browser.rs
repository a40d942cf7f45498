//! Headless Chromium for the browser tests: where Chromium and playwright-core are, running
//! node with a time limit, and sealing the test thread in a loopback-only network namespace.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peers_tools() -> PathBuf {
    match std::env::var_os("PEERS_TOOLS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo().join("target").join("peers-tools"),
    }
}

pub fn chromium() -> PathBuf {
    match std::env::var_os("CHROMIUM") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/chromium"),
    }
}

/// Panics with an install hint when a needed peer is missing (never skips).
pub fn require_peers(tools: &Path, chromium: &Path) {
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

pub fn firefox() -> PathBuf {
    match std::env::var_os("FIREFOX") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/firefox-esr"),
    }
}

/// Panics with an install hint when Firefox or puppeteer-core is missing (never skips).
pub fn require_firefox(tools: &Path) {
    let hint = "run tests/run.sh (it installs the test peers), or: apt-get install firefox-esr; \
                cd target/peers-tools && npm install puppeteer-core@24.43.1 (FIREFOX overrides \
                the browser's location)";
    assert!(
        firefox().is_file(),
        "Firefox not found at {} — {hint}",
        firefox().display()
    );
    let pp = tools.join("node_modules").join("puppeteer-core");
    assert!(
        pp.join("package.json").is_file(),
        "puppeteer-core not found at {} — {hint}",
        pp.display()
    );
}

/// Runs `cmd`, killing it after `timeout`; returns (success, stdout, stderr).
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> (bool, String, String) {
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
/// Takes `peers` (one test of the file at a time: the shared peers use fixed ports), checks
/// that the browser peers are installed, and moves the test thread into a loopback-only
/// network namespace when the machine allows it.
pub fn take_peers(peers: &'static std::sync::Mutex<()>) -> std::sync::MutexGuard<'static, ()> {
    let guard = peers.lock().unwrap_or_else(|e| e.into_inner());
    require_peers(&peers_tools(), &chromium());
    match seal_network() {
        Ok(()) => println!("network: new namespace, loopback only"),
        Err(why) => println!("network: no namespace ({why}); host network, 127.0.0.1 only"),
    }
    guard
}

pub fn seal_network() -> Result<(), String> {
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

/// Drops every UDP packet to `ports` in this thread's network namespace (an nftables rule):
/// only for a namespace [`seal_network`] made, never the host's.
pub fn block_udp_to(ports: &[u16]) {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let script = format!(
        "add table inet sylk_test\n\
         add chain inet sylk_test input {{ type filter hook input priority 0; }}\n\
         add rule inet sylk_test input udp dport {{ {} }} drop\n",
        ports.join(", ")
    );
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft (tests/run.sh installs nftables)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "nft could not block UDP to {ports:?}");
}

/// The last `lines` lines, without the DTLS ClientHello extension warnings (many per handshake).
pub fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s
        .lines()
        .filter(|l| !l.contains("Unsupported Extension Type"))
        .collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Runs the node driver `tests/browser/<script>` against `base` (extra environment `env`),
/// with screenshots in `target/test-output/<shots>/` (emptied first); returns its JSON
/// summary. A failure panics with the driver's output and `context()` (logs of the peers).
pub fn run_driver(
    script: &str,
    base: &str,
    shots: &str,
    env: &[(&str, String)],
    context: impl Fn() -> String,
) -> serde_json::Value {
    require_peers(&peers_tools(), &chromium());
    let shots = repo().join("target/test-output").join(shots);
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser").join(script))
        .arg(base)
        .env("NODE_PATH", peers_tools().join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("SHOT_DIR", &shots);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (ok, stdout, stderr) = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        ok,
        "{script} failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n{}",
        tail(&stderr, 80),
        context()
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("the driver printed JSON");
    println!("{summary}");
    assert_eq!(summary["ok"], true, "{summary}");
    summary
}

/// Seals the calling thread's network (see [`seal_network`]), saying which network is used.
pub fn loopback_only() {
    match seal_network() {
        Ok(()) => println!("network: new namespace, loopback only"),
        Err(why) => println!("network: no namespace ({why}); host network, 127.0.0.1 only"),
    }
}
