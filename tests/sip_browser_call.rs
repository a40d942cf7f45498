//! Headless Chromium (fake microphone) in 1:1 calls with baresip through a real Kamailio:
//! the browser page (tests/browser/call.html, driven by call_test.js) registers alice on the
//! gateway and calls bob's baresip, then the other way round (baresip dials alice, the page
//! answers). In both, audio flows both ways: the page's `getStats` shows inbound
//! `packetsReceived` and outbound `packetsSent` (> 50 each), and baresip's RTP statistics at
//! hangup count packets received from the gateway. The page hangs up (`session-terminate`).
//!
//! Same network rule as tests/browser_room.rs: the test thread moves into a loopback-only
//! network namespace first (when the machine allows it), and Kamailio, baresip, the gateway and
//! Chromium all run in it. Screenshots go to `target/test-output/sip_browser_call/`.
mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::browser::*;
use common::sip::*;
use common::Gateway;

const NODE_TIMEOUT: Duration = Duration::from_secs(90);
/// Kamailio and baresip use fixed ports: one test at a time (also without a namespace).
static PEERS: Mutex<()> = Mutex::new(());

fn node(gw: &Gateway, args: &[&str]) -> Command {
    let tools = peers_tools();
    let shots = repo().join("target/test-output/sip_browser_call");
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/call_test.js"))
        .arg(gw.ws_url())
        .args(args)
        .env("NODE_PATH", tools.join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("SHOT_DIR", shots);
    cmd
}

fn setup() -> std::sync::MutexGuard<'static, ()> {
    take_peers(&PEERS)
}

fn check(ok: bool, stdout: &str, stderr: &str, gw: &Gateway, phone: &Baresip) -> serde_json::Value {
    assert!(
        ok,
        "browser call failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- baresip:\n{}\n--- gateway (tail):\n{}",
        tail(stderr, 60),
        tail(&phone.log(), 40),
        tail(&gw.log(), 120)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    assert_eq!(summary["ok"], true, "{summary}");
    println!("{summary}");
    assert!(
        summary["stats"]["inbound"]["packetsReceived"]
            .as_u64()
            .unwrap()
            > 50,
        "{summary}"
    );
    assert!(
        summary["stats"]["outbound"]["packetsSent"]
            .as_u64()
            .unwrap()
            > 50,
        "{summary}"
    );
    assert_eq!(summary["reason"], "200 to BYE", "{summary}");
    let (sent, received) = phone.rtp_packets();
    println!("baresip RTP packets: sent {sent}, received {received}");
    assert!(
        received > 50,
        "baresip received {received} RTP packets:\n{}",
        phone.log()
    );
    assert!(sent > 50, "baresip sent {sent} RTP packets");
    summary
}

/// The session states the page saw, in order.
fn states(summary: &serde_json::Value) -> Vec<&str> {
    summary["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn chromium_calls_baresip_through_kamailio() {
    let _peers = setup();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let (ok, stdout, stderr) =
        run_with_timeout(node(&gw, &[ALICE, ALICE_HA1, "call", BOB]), NODE_TIMEOUT);
    let summary = check(ok, &stdout, &stderr, &gw, &bob);
    let states = states(&summary);
    assert_eq!(
        &states[..2],
        ["progress", "ringing"].as_slice(),
        "{summary}"
    );
    assert!(states.ends_with(&["accepted", "established"]), "{summary}");
}

#[test]
fn baresip_calls_chromium_through_kamailio() {
    let _peers = setup();
    let kamailio = Kamailio::start(&[]);
    let bob = Baresip::start("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let summary = bob_dials_the_page(&kamailio, &gw, &bob);
    let states = states(&summary);
    assert!(states.ends_with(&["accepted", "established"]), "{summary}");
}

/// The page registers alice and answers; once Kamailio has her binding, bob dials her.
/// Returns the page's summary, checked as [`check`] does.
fn bob_dials_the_page(kamailio: &Kamailio, gw: &Gateway, bob: &Baresip) -> serde_json::Value {
    let cmd = node(gw, &[ALICE, ALICE_HA1, "answer"]);
    let browser = std::thread::spawn(move || run_with_timeout(cmd, NODE_TIMEOUT));
    wait_alice_registered(kamailio);
    bob.command("dial", "sip:alice@127.0.0.1");
    let (ok, stdout, stderr) = browser.join().unwrap();
    check(ok, &stdout, &stderr, gw, bob)
}

/// Waits until Kamailio registered the page's alice (at the gateway's contact).
fn wait_alice_registered(kamailio: &Kamailio) {
    let deadline = Instant::now() + NODE_TIMEOUT / 2;
    while !kamailio
        .log()
        .contains("REGISTER ok: sip:alice@127.0.0.1 -> <sip:alice@127.0.0.1:")
    {
        assert!(
            Instant::now() < deadline,
            "alice never registered:\n{}",
            kamailio.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// sylkrtc.js's `Call.addVideo()`: the page calls bob's baresip (video on: VP8 and a test
/// pattern) with audio only, then adds its camera with `session-update`. baresip gets the
/// re-INVITE with video, answers it and sends its test pattern, which the page decodes; the
/// page's video reaches baresip.
#[test]
fn chromium_upgrades_its_call_to_baresip_to_video() {
    let _peers = setup();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start_video("bob");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut cmd = node(&gw, &[ALICE, ALICE_HA1, "call", BOB]);
    cmd.env("VIDEO", "add");
    let (ok, stdout, stderr) = run_with_timeout(cmd, NODE_TIMEOUT);
    let summary = check(ok, &stdout, &stderr, &gw, &bob);
    assert_eq!(
        summary["updates"],
        serde_json::json!(["accepted"]),
        "{summary}"
    );
    let video = &summary["video"];
    assert!(
        video["videoIn"]["framesDecoded"].as_u64().unwrap_or(0) > 10,
        "{summary}"
    );
    assert!(
        video["videoOut"]["packetsSent"].as_u64().unwrap_or(0) > 50,
        "{summary}"
    );
    // baresip's answer to the re-INVITE took video: the page's VP8 reached it, its own went
    // out.
    let (sent, received) = bob.stream_packets("video");
    println!("baresip video RTP packets: sent {sent}, received {received}");
    assert!(sent > 10 && received > 10, "{}", bob.log());
}

/// The other way: a SIP caller (SIPp) upgrades its audio call to the page with a re-INVITE
/// adding VP8. The page gets `update {state: received}` with the offer, answers it with its
/// camera (`session-update`), and sends video; SIPp checks that the 200 accepts audio and
/// video, then hangs up.
#[test]
fn a_sip_callers_video_reinvite_reaches_chromium_and_is_answered() {
    let _peers = setup();
    let kamailio = Kamailio::start(&[]);
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut cmd = node(&gw, &[ALICE, ALICE_HA1, "answer"]);
    cmd.env("VIDEO", "answer");
    let browser = std::thread::spawn(move || run_with_timeout(cmd, NODE_TIMEOUT));
    wait_alice_registered(&kamailio);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sipp = rt.block_on(async { Sipp::caller(&own_scenario("uac_reinvite_video.xml")) });
    let (ok, stdout, stderr) = browser.join().unwrap();
    let (code, sipp_log) = rt.block_on(sipp.exit_code(Duration::from_secs(30)));
    assert!(
        ok && code == Some(0),
        "browser or SIPp failed (sipp exit {code:?})\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- sipp:\n{sipp_log}\n--- gateway (tail):\n{}",
        tail(&stderr, 60),
        tail(&gw.log(), 120)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    println!("{summary}");
    assert_eq!(
        summary["updates"],
        serde_json::json!(["received"]),
        "{summary}"
    );
    assert!(
        summary["stats"]["videoOut"]["packetsSent"]
            .as_u64()
            .unwrap_or(0)
            > 20,
        "{summary}"
    );
    assert_eq!(summary["reason"], "200 Received BYE", "{summary}");
}

/// SDES-SRTP (`sdes_srtp = "mandatory"`): the page calls bob's baresip, which takes only
/// RTP/SAVP (`mediaenc=srtp-mand`); audio flows both ways, encrypted on the SIP side.
#[test]
fn chromium_calls_an_srtp_only_baresip() {
    let _peers = setup();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start_srtp("bob", "srtp-mand");
    let gw = Gateway::start(&["--sip-proxy", PROXY, "--sdes-srtp", "mandatory"]);
    let (ok, stdout, stderr) =
        run_with_timeout(node(&gw, &[ALICE, ALICE_HA1, "call", BOB]), NODE_TIMEOUT);
    check(ok, &stdout, &stderr, &gw, &bob);
    gw.wait_log("plain leg encrypted (SDES-SRTP)");
}

/// SDES-SRTP the other way (`sdes_srtp = "optional"`, the default): bob's baresip
/// (`mediaenc=srtp`, RTP/AVP with keys) calls the page; audio flows both ways, encrypted.
#[test]
fn an_srtp_baresip_calls_chromium() {
    let _peers = setup();
    let kamailio = Kamailio::start(&[]);
    let bob = Baresip::start_srtp("bob", "srtp");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    bob_dials_the_page(&kamailio, &gw, &bob);
    gw.wait_log("plain leg encrypted (SDES-SRTP)");
}

/// Transcoding: the page offers Opus alone (its microphone a 440 Hz sine) and calls a baresip
/// that has G.722 only. The gateway offers G.722, PCMU and PCMA besides the page's Opus, bob
/// takes G.722, and the gateway transcodes both ways: the page receives audio, baresip
/// receives it and what it plays has the page's 440 Hz in it.
#[test]
fn an_opus_only_browser_calls_a_g722_only_phone_through_the_transcoder() {
    let _peers = setup();
    let _kamailio = Kamailio::start(&[]);
    let bob = Baresip::start_with("bob", "module\tg722.so\n", ";audio_codecs=g722/16000/1");
    let gw = Gateway::start(&["--sip-proxy", PROXY]);
    let mut cmd = node(&gw, &[ALICE, ALICE_HA1, "call", BOB]);
    cmd.env("OPUS_ONLY", "1")
        .env("TONE", "440")
        .env("HOLD_MS", "1500");
    let (ok, stdout, stderr) = run_with_timeout(cmd, NODE_TIMEOUT);
    check(ok, &stdout, &stderr, &gw, &bob);
    assert!(
        gw.log().contains("call transcoded: Opus <-> G722"),
        "{}",
        tail(&gw.log(), 60)
    );
    assert!(
        bob.log().contains("Set audio decoder: G722"),
        "{}",
        bob.log()
    );
    assert_heard(&bob.received_wav("bob"), &[440.0], 880.0);
}
