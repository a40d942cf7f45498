//! Three real headless browser participants (Debian `chromium`; in the second test two of them
//! in Debian `firefox-esr`; fake camera and microphone) in one video room, through a small
//! sylkRTC-2 test page (tests/browser/room.html) driven by playwright-core and puppeteer-core
//! (tests/browser/room_test.js): each one decodes the others' video and receives their audio;
//! then one tab closes abruptly and the other two get `publishers-left` within the ICE consent
//! timeout (5 s here).
//!
//! Needs `chromium` (or `CHROMIUM=/path`), `firefox-esr` (or `FIREFOX=/path`), `node`, and
//! playwright-core and puppeteer-core in `$PEERS_TOOLS/node_modules` (default
//! `target/peers-tools`); tests/run.sh installs them. When they are missing these tests fail:
//! they do not skip. Screenshots of the pages are written to `target/test-output/browser_room*/`.
//!
//! Network rule (shared peers.md §1): the test thread first moves into a new, unnamed network
//! namespace with only `lo` up (`unshare(CLONE_NEWNET)` affects the calling thread, and the
//! gateway, node and Chromium started from it inherit it), so the browsers cannot reach
//! anything but 127.0.0.1. The namespace disappears with its processes. Where namespaces cannot
//! be created (not root, no CAP_SYS_ADMIN, no `ip`), it says so and runs on the host network:
//! the gateway still advertises only 127.0.0.1 and the page uses `iceServers: []`.
//!
//! The third test puts a lossy UDP relay in front of the gateway's media port (the gateway
//! advertises the relay's 127.0.0.2): one VP8 packet in 20 toward the browsers is dropped, and
//! each Chromium must NACK and get the packet back over RTX from the gateway. The fourth has a
//! Chromium publisher send two simulcast layers, and its subscriber's layer follow his
//! requests down and back up (tests/browser/simulcast_test.js).
mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::browser::*;
use common::Gateway;

/// ICE consent timeout of the Chromium room (Chromium checks about every 2.5 s).
const CONSENT_TIMEOUT_S: &str = "5";
/// Firefox sends its consent checks every 4 to 6 s (RFC 7675's randomised 5 s), later under
/// load: 5 s would expire live peers, so its room uses 15 s (the default is 30 s).
const FIREFOX_CONSENT_TIMEOUT_S: &str = "15";
/// The whole node run: browser launch, three joins, media, close, checks (~5 s normally).
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// Three Chromium participants: each decodes the others' video and audio; each gets
/// `conference-audio-levels` for the others (their fake microphones), and a muted one's level
/// falls to 0 and stays there; a closed tab is noticed.
#[test]
fn browser_room_three_chromium_participants() {
    room_with(
        "chromium,chromium,chromium",
        "browser_room",
        CONSENT_TIMEOUT_S,
        Network::Plain,
    );
}

/// Three Chromium participants behind a relay that loses one VP8 packet in 20 on the way to
/// them: every feed shows NACKs sent and packets retransmitted (RTX) by the gateway's own
/// send path, and the video keeps decoding.
#[test]
fn browser_room_recovers_lost_video_by_rtx() {
    room_with(
        "chromium,chromium,chromium",
        "browser_room_lossy",
        CONSENT_TIMEOUT_S,
        Network::Lossy(20),
    );
}

/// alice's Chromium publishes two simulcast layers (half and full resolution); bob's feed
/// follows his requests: layer h, layer l after `videoroom-session-update` asks for 100
/// kbit/s, layer h again after 10 Mbit/s, each seen in the width bob decodes
/// (tests/browser/simulcast_test.js).
#[test]
fn browser_room_simulcast_layer_follows_the_subscribers_request() {
    // Alone (see ALONE); nextest gives it both test slots too (.config/nextest.toml).
    let _alone = ALONE.write().unwrap_or_else(|e| e.into_inner());
    loopback_only();
    let gw = Gateway::start(&[]);
    let summary = run_driver(
        "simulcast_test.js",
        &gw.ws_url(),
        "browser_room_simulcast",
        &[],
        || format!("--- gateway (tail):\n{}", tail(&gw.log(), 80)),
    );
    let rids: Vec<&str> = summary["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["rid"].as_str().expect("rid"))
        .collect();
    assert_eq!(rids, ["h", "l", "h"], "{summary}");
}

/// Rooms of another video codec (`room_video_codec`): the same simulcast run, with bob
/// decoding the room's codec and his layer switched at its keyframes.
fn codec_room(codec: &str) {
    let _alone = ALONE.write().unwrap_or_else(|e| e.into_inner());
    loopback_only();
    let dir = tempfile::tempdir().expect("config dir");
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, format!("room_video_codec = \"{codec}\"\n")).expect("config");
    let gw = Gateway::start(&["--config", file.to_str().expect("path")]);
    let summary = run_driver(
        "simulcast_test.js",
        &gw.ws_url(),
        &format!("browser_room_{codec}"),
        &[("CODEC", codec.to_string())],
        || format!("--- gateway (tail):\n{}", tail(&gw.log(), 80)),
    );
    let layers = summary["layers"].as_array().expect("layers");
    let rids: Vec<&str> = layers.iter().map(|l| l["rid"].as_str().unwrap()).collect();
    assert_eq!(rids, ["h", "l", "h"], "{summary}");
}

/// A `video_codec = "h264"` room: Chromium publishes H.264 (Constrained Baseline) in two
/// simulcast layers, the subscriber decodes H.264 and follows its bitrate requests.
#[test]
fn browser_room_h264_with_simulcast() {
    codec_room("h264");
}

/// A `video_codec = "vp9"` room, the same way.
#[test]
fn browser_room_vp9_with_simulcast() {
    codec_room("vp9");
}

/// A UDP relay in front of the gateway's media port, as a NAT would be: each browser address
/// gets its own socket toward the gateway; on each of those paths, every `drop_every`-th VP8
/// packet (payload type 96, visible in the SRTP header) toward the browser is dropped.
struct LossyRelay {
    dropped: Arc<AtomicU64>,
}

impl LossyRelay {
    fn start(front: SocketAddr, gateway: SocketAddr, drop_every: u64) -> LossyRelay {
        let socket = UdpSocket::bind(front).expect("relay bind");
        let dropped = Arc::new(AtomicU64::new(0));
        let upstream: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Default::default();
        let d = dropped.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((n, browser)) = socket.recv_from(&mut buf) {
                let mut map = upstream.lock().expect("relay map");
                let up = map.entry(browser).or_insert_with(|| {
                    let up = UdpSocket::bind("127.0.0.1:0").expect("upstream bind");
                    up.connect(gateway).expect("upstream connect");
                    let (back, from_gw) = (socket.try_clone().expect("clone"), up.try_clone());
                    let from_gw = from_gw.expect("clone");
                    let d = d.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 2048];
                        let mut video = 0u64;
                        while let Ok(n) = from_gw.recv(&mut buf) {
                            let data = &buf[..n];
                            let vp8 = n > 12 && data[0] >> 6 == 2 && data[1] & 0x7f == 96;
                            video += u64::from(vp8);
                            if vp8 && video.is_multiple_of(drop_every) {
                                d.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            let _ = back.send_to(data, browser);
                        }
                    });
                    up
                });
                let _ = up.send(&buf[..n]);
            }
        });
        LossyRelay { dropped }
    }
}

/// The same room with alice in Chromium and bob and carol in Firefox ESR (puppeteer-core over
/// WebDriver BiDi): every participant decodes the others, whatever their browser; carol's
/// Firefox tab is the one closed.
#[test]
fn browser_room_chromium_and_firefox_participants() {
    require_firefox(&peers_tools());
    room_with(
        "chromium,firefox,firefox",
        "browser_room_firefox",
        FIREFOX_CONSENT_TIMEOUT_S,
        Network::Plain,
    );
}

/// Three Chromium participants whose network drops every UDP packet to the gateway's media
/// ports (an nftables rule in the test's network namespace): all of them connect over ICE-TCP
/// (every selected pair is TCP), decode each other, and the closed tab is noticed.
#[test]
fn browser_room_over_ice_tcp_when_udp_is_blocked() {
    room_with(
        "chromium,chromium,chromium",
        "browser_room_ice_tcp",
        CONSENT_TIMEOUT_S,
        Network::UdpBlocked,
    );
}

/// The room cap (`max_bitrate`, bits/s) of the ICE-TCP room: each of its three publishers
/// may send half of it.
const ROOM_MAX_BITRATE: u64 = 200_000;

/// The network between the browsers and the gateway.
#[derive(Clone, Copy, PartialEq)]
enum Network {
    Plain,
    /// A [`LossyRelay`] dropping one VP8 packet in this many toward the browsers.
    Lossy(u64),
    /// UDP to the media ports dropped: ICE-TCP or nothing.
    UdpBlocked,
}

/// Under `cargo test` (tests of one binary in parallel threads) the simulcast test runs with
/// no other room of this binary beside it.
static ALONE: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn room_with(browsers: &str, shots: &str, consent_timeout: &str, network: Network) {
    let lossy = match network {
        Network::Lossy(every) => Some(every),
        _ => None,
    };
    let _shared = ALONE.read().unwrap_or_else(|e| e.into_inner());
    let tools = peers_tools();
    let chromium = chromium();
    require_peers(&tools, &chromium);
    match seal_network() {
        Ok(()) => println!("network: new namespace, loopback only"),
        Err(why) if network == Network::UdpBlocked => {
            panic!("blocking UDP needs a network namespace of the test's own: {why}")
        }
        Err(why) => println!(
            "network: could not create a network namespace ({why}); running on the host \
             network (the gateway still advertises only 127.0.0.1)"
        ),
    }

    let relay_ip = "127.0.0.2";
    let mut flags = vec!["--ice-consent-timeout", consent_timeout];
    if lossy.is_some() {
        // The media socket on 127.0.0.1 alone: the relay takes its port on 127.0.0.2.
        flags.extend(["--advertise-ip", relay_ip, "--media-listen", "127.0.0.1"]);
    }
    // Over ICE-TCP the room is capped: 200 kbit/s among three publishers is 100 kbit/s each
    // (SylkServer's share), told to the browsers by REMB; the plain room has no cap, for the
    // contrast in the printed rates.
    let config = tempfile::tempdir().expect("config dir");
    let config_file = config.path().join("gw.toml");
    let capped = network == Network::UdpBlocked;
    std::fs::write(
        &config_file,
        if capped {
            format!("[rooms.\"browsers@videoconference.example.com\"]\nmax_bitrate = {ROOM_MAX_BITRATE}\n")
        } else {
            String::new()
        },
    )
    .expect("config");
    let config_arg = config_file.display().to_string();
    flags.extend(["--config", config_arg.as_str()]);
    let gw = Gateway::start(&flags);
    if network == Network::UdpBlocked {
        block_udp_to(&gw.media_ports());
        assert!(
            !gw.tcp_ports().is_empty(),
            "no ICE-TCP listener: {}",
            gw.log()
        );
    }
    let relay = lossy.map(|every| {
        let media = gw.media_target();
        let front = SocketAddr::new(relay_ip.parse().expect("ip"), media.port());
        LossyRelay::start(front, media, every)
    });
    let shots = repo().join("target").join("test-output").join(shots);
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests").join("browser").join("room_test.js"))
        .arg(gw.ws_url())
        .env("NODE_PATH", tools.join("node_modules"))
        .env("CHROMIUM", &chromium)
        .env("FIREFOX", firefox())
        .env("BROWSERS", browsers)
        .env("CONSENT_TIMEOUT", consent_timeout)
        .env(
            "MEDIA_IP",
            if relay.is_some() {
                relay_ip
            } else {
                "127.0.0.1"
            },
        )
        .env("EXPECT_RTX", if relay.is_some() { "1" } else { "0" })
        // Audio levels with Chromium's fake microphone (Firefox's is silent or differs).
        .env(
            "AUDIO_LEVELS",
            if browsers.split(',').all(|b| b == "chromium") {
                "1"
            } else {
                "0"
            },
        )
        .env(
            "MEDIA_PROTOCOL",
            if network == Network::UdpBlocked {
                "tcp"
            } else {
                "udp"
            },
        )
        .env("SHOT_DIR", &shots);
    if capped {
        cmd.env("MAX_BITRATE", (ROOM_MAX_BITRATE / 2).to_string());
    } else if network == Network::Plain && browsers == "chromium,chromium,chromium" {
        cmd.env("MEASURE_RATES", "1");
    }
    let (ok, stdout, stderr) = run_with_timeout(cmd, NODE_TIMEOUT);
    let log = gw.log();
    // The whole log beside the screenshots, for a failure's post-mortem.
    let _ = std::fs::write(shots.join("gateway.log"), &log);
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
    if let Some(relay) = relay {
        let dropped = relay.dropped.load(Ordering::Relaxed);
        println!("relay: {dropped} VP8 packets dropped toward the browsers");
        assert!(dropped > 0, "the relay dropped nothing");
    }
    for user in ["alice", "bob"] {
        let ms = summary["closed"]["publishers_left_ms"][user]
            .as_f64()
            .unwrap_or_else(|| panic!("no publishers-left time for {user}: {summary}"));
        let limit: f64 = consent_timeout.parse::<f64>().unwrap() * 1000.0;
        assert!(ms <= limit, "{user} told after {ms} ms");
    }
}
