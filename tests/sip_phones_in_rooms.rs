//! Phones in video rooms (dial-in): baresip calls `sip:<room>@<conference domain>` through a
//! real Kamailio and joins the room's audio mix, with headless Chromium participants whose
//! microphones are tones of their own (tests/browser/phone_room_test.js).
//!
//! What a phone hears is checked in the WAV baresip records: the browsers' tones are in it,
//! its own tone is not (an N − 1 mix). What the browsers hear of the phone is checked in the
//! pages: packets of its feed and a loudness above silence (WebAudio).
//!
//! Same network rule as tests/sip_browser_call.rs: the test thread moves into a loopback-only
//! network namespace first when the machine allows it.
mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::browser::*;
use common::room::{ack, attach, join_room_as};
use common::sip::*;
use common::webrtc_peer::{Kind, PeerMode};
use common::Gateway;
use serde_json::json;

const NODE_TIMEOUT: Duration = Duration::from_secs(120);
static PEERS: Mutex<()> = Mutex::new(());

fn setup() -> std::sync::MutexGuard<'static, ()> {
    take_peers(&PEERS)
}

/// The gateway with 127.0.0.1 as its conference domain, Kamailio as its proxy (and a second
/// of grace for its rooms when it stops).
fn gateway() -> Gateway {
    Gateway::start(&[
        "--sip-proxy",
        PROXY,
        "--conference-domains",
        "127.0.0.1",
        "--shutdown-grace",
        "1",
    ])
}

/// A baresip phone (`alice` or `bob` of the shared peers) that sends a sine of `hz`, offers
/// only `codecs`, and sends every request through Kamailio.
fn phone(name: &str, hz: u32, codecs: &str) -> Baresip {
    Baresip::start_with(
        name,
        &format!("module\tg722.so\naudio_source\tausine,{hz}\n"),
        &format!(";audio_codecs={codecs};outbound=\"sip:127.0.0.1:5060\""),
    )
}

/// The room URI the phone dials: the gateway's own SIP address, so that Kamailio relays it
/// there (the conference domain is 127.0.0.1).
fn room_uri(gw: &Gateway, room: &str) -> String {
    format!("sip:{room}@127.0.0.1:{}", gw.sip_addr().port())
}

/// Runs the browser driver: `tones` (Hz, one page each) in `room`; returns its summary.
fn browsers(
    gw: &Gateway,
    room: &str,
    tones: &str,
    phone_for_log: &[&Baresip],
) -> serde_json::Value {
    let tools = peers_tools();
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/phone_room_test.js"))
        .arg(gw.ws_url())
        .arg(room)
        .env("NODE_PATH", tools.join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("TONES", tones);
    let (ok, stdout, stderr) = run_with_timeout(cmd, NODE_TIMEOUT);
    let phones: Vec<String> = phone_for_log.iter().map(|p| tail(&p.log(), 30)).collect();
    assert!(
        ok,
        "browsers failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- phones:\n{}\n--- gateway (tail):\n{}",
        tail(&stderr, 60),
        phones.join("\n---\n"),
        tail(&gw.log(), 120)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    println!("{summary}");
    summary
}

/// baresip (G.722 only, 1500 Hz) calls the room; two Chromium participants (440 and 880 Hz)
/// join it. Both pages receive and hear the phone's feed (a publisher of type `sip`); the
/// phone hears 440 and 880 Hz and not its own 1500. Its BYE ends its part.
#[test]
fn a_phone_dials_into_a_room_of_two_browsers_and_hears_them_mixed() {
    let _peers = setup();
    let kamailio = Kamailio::start(&[]);
    let bob = phone("bob", 1500, "g722/16000/1");
    let gw = gateway();
    bob.command("dial", &room_uri(&gw, "daily"));
    bob.wait_log("Call established");
    assert!(
        kamailio.log().contains("REQ INVITE sip:daily@127.0.0.1:"),
        "the INVITE did not go through Kamailio:\n{}",
        kamailio.log()
    );
    let summary = browsers(&gw, "daily@127.0.0.1", "440,880", &[&bob]);
    for user in ["alice", "bob"] {
        let p = &summary["participants"][user];
        assert_eq!(p["phone"]["type"], "sip", "{summary}");
        assert_eq!(p["phone"]["uri"], "bob@127.0.0.1", "{summary}");
        assert!(p["loudness"].as_f64().unwrap() > 0.01, "{summary}");
        assert!(p["phone_level"].as_u64().unwrap_or(0) > 0, "{summary}");
    }
    bob.command("hangup", "");
    let (sent, received) = bob.rtp_packets();
    println!("baresip RTP packets: sent {sent}, received {received}");
    assert!(received > 100, "{}", bob.log());
    assert_heard(&bob.received_wav("bob"), &[440.0, 880.0], 1500.0);
    let log = gw.log();
    let joined = log
        .lines()
        .find(|l| l.contains("phone joined the room's mix"))
        .expect("the phone joined the mix");
    assert!(
        joined.contains("G722"),
        "the phone's leg was not G.722: {joined}\n{}",
        bob.log()
    );
    gw.wait_log("phone left the room");
}

/// A G.722 phone (1000 Hz) and a PCMU phone (1500 Hz) in one room with a browser (440 Hz):
/// each phone hears the other and the browser, not itself. The gateway's shutdown ends the
/// room and hangs both phones up.
#[test]
fn a_g722_phone_and_a_pcmu_phone_hear_each_other_and_the_browser() {
    let _peers = setup();
    let _kamailio = Kamailio::start(&[]);
    let alice = phone("alice", 1000, "g722/16000/1");
    let bob = phone("bob", 1500, "pcmu");
    let gw = gateway();
    alice.command("dial", &room_uri(&gw, "mixed"));
    alice.wait_log("Call established");
    bob.command("dial", &room_uri(&gw, "mixed"));
    bob.wait_log("Call established");
    browsers(&gw, "mixed@127.0.0.1", "440", &[&alice, &bob]);
    // The gateway stops: its rooms end, and both phones get a BYE.
    let mut gw = gw;
    assert!(gw.terminate().success(), "{}", tail(&gw.log(), 40));
    alice.wait_log("terminated");
    bob.wait_log("terminated");
    alice.rtp_packets();
    bob.rtp_packets();
    assert_heard(&alice.received_wav("alice"), &[440.0, 1500.0], 1000.0);
    assert_heard(&bob.received_wav("bob"), &[440.0, 1000.0], 1500.0);
}

/// `videoroom-invite` of an address no connection of the gateway has (bob, a SIPp phone
/// registered at Kamailio) calls it from the room as the inviting account (alice, whose
/// From Kamailio challenges: the gateway answers the 407 with her credentials). alice gets
/// `invite-status` progress and success; SIPp answers with PCMA: the room gets
/// `publishers-joined` with type `sip`; alice attaches its feed and receives its audio (SIPp
/// echoes the room's mix back); muting it stops its feed (`publisher-updated`), unmuting
/// brings it back; SIPp's BYE gives `publishers-left`. An address nobody answers at gives
/// `invite-status` failed with the proxy's 404.
#[test]
fn a_room_calls_an_invited_phone_which_stays_until_its_bye() {
    let _peers = setup();
    let kamailio = Kamailio::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        register_bob().await;
        // SIPp's callee that answers and hangs up, with 9 s of call instead of 2.
        let dir = tempfile::tempdir().unwrap();
        let scenario = dir.path().join("uas_answer_then_bye.xml");
        let xml = std::fs::read_to_string(own_scenario("uas_answer_then_bye.xml")).unwrap();
        std::fs::write(
            &scenario,
            xml.replace("milliseconds=\"2000\"", "milliseconds=\"9000\""),
        )
        .unwrap();
        let uas = Sipp::callee(&scenario.display().to_string());
        let gw = Gateway::start(&["--sip-proxy", PROXY]);
        let room = "office@example.com";
        let mut alice = join_room_as(&gw, ALICE, ALICE_HA1, room, PeerMode::Browser).await;
        let session = alice.session.clone();
        // Inviting acts in alice's name: her account must be registered.
        register(&mut alice.ws, ALICE).await;
        ack(&alice
            .ws
            .request(
                json!({"sylkrtc": "videoroom-invite", "session": session, "participants": [BOB]}),
            )
            .await);
        // The call's progress, then its success, reach the inviter (Appendix A invite-status).
        let progress = alice
            .ws
            .room_event(&session, "invite-status", Some("progress"))
            .await;
        assert_eq!(progress["participant"], BOB, "{progress}");
        let success = alice
            .ws
            .room_event(&session, "invite-status", Some("success"))
            .await;
        assert_eq!(success["code"], 200, "{success}");
        let joined = alice
            .ws
            .room_event(&session, "publishers-joined", None)
            .await;
        let phone = &joined["publishers"][0];
        assert_eq!(phone["type"], "sip", "{joined}");
        assert_eq!(phone["uri"], BOB, "{joined}");
        let phone_session = phone["id"].as_str().unwrap().to_string();
        let (_feed, sub) = attach(&mut alice, &phone_session).await;
        let audio = sub
            .wait_received(Kind::Audio, 25, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("no audio from the phone: {e}\n{}", tail(&gw.log(), 60)));
        assert!(audio.len() >= 25);
        // Muting the phone (there is no client to ask: the mix leaves it out) stops its feed,
        // and the room hears of it as `publisher-updated`; unmuting brings it back.
        let mute = |muted: bool| {
            json!({"sylkrtc": "videoroom-mute-participant", "session": session,
                   "participant_id": phone_session, "muted": muted})
        };
        ack(&alice.ws.request(mute(true)).await);
        let updated = alice
            .ws
            .room_event(&session, "publisher-updated", None)
            .await;
        assert_eq!(updated["muted"], true, "{updated}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = sub.received().audio.len();
        tokio::time::sleep(Duration::from_millis(800)).await;
        let muted_packets = sub.received().audio.len() - before;
        assert!(
            muted_packets <= 2,
            "{muted_packets} packets from a muted phone"
        );
        ack(&alice.ws.request(mute(false)).await);
        let unmuted = before + muted_packets + 20;
        sub.wait_received(Kind::Audio, unmuted, Duration::from_secs(5))
            .await
            .expect("the phone's audio again after unmuting");
        let left = alice.ws.room_event(&session, "publishers-left", None).await;
        assert_eq!(left["publishers"], json!([phone_session]), "{left}");
        let (code, log) = uas.exit_code(Duration::from_secs(15)).await;
        assert_eq!(
            code,
            Some(0),
            "sipp callee:\n{log}\ngateway:\n{}",
            tail(&gw.log(), 60)
        );
        let k = kamailio.log();
        assert!(k.contains("REQ INVITE sip:bob@127.0.0.1"), "{k}");
        let log = gw.log();
        assert!(
            log.contains("calling a phone into the room"),
            "{}",
            tail(&log, 40)
        );
        let joined = log
            .lines()
            .find(|l| l.contains("phone joined the room's mix"))
            .expect("the called phone joined the mix");
        assert!(joined.contains("PCMA"), "{joined}");
        // An address nobody answers at: `invite-status` failed, with the proxy's 404.
        ack(&alice
            .ws
            .request(json!({"sylkrtc": "videoroom-invite", "session": session,
                            "participants": ["nobody@127.0.0.1"]}))
            .await);
        let failed = alice
            .ws
            .room_event(&session, "invite-status", Some("failed"))
            .await;
        assert_eq!(failed["participant"], "nobody@127.0.0.1", "{failed}");
        assert_eq!(failed["code"], 404, "{failed}");
        sub.close().await.unwrap();
    });
}
