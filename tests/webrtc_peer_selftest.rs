//! Self-test of the independent webrtc-rs test peer (tests/common/webrtc_peer.rs): two
//! `TestPeer`s connect to each other over loopback, the publisher sends generated Opus and
//! VP8, and the subscriber checks what arrives.

#[path = "common/webrtc_peer.rs"]
mod webrtc_peer;

use std::time::{Duration, Instant};

use anyhow::Context as _;

use webrtc_peer::{
    audio_payload, is_regular_keyframe, payload_counter, payload_intact, video_payload,
    vp8_is_keyframe, Kind, PeerMode, RtpRecord, TestPeer, OPUS_PT, VP8_PT,
};

const STEP: Duration = Duration::from_secs(10);

/// Every `a=candidate` line must be a UDP host candidate on 127.0.0.1, and there must be one.
fn assert_loopback_only(sdp: &str) {
    let candidates: Vec<&str> = sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    assert!(!candidates.is_empty(), "no candidates in SDP:\n{sdp}");
    for c in &candidates {
        let fields: Vec<&str> = c.split_whitespace().collect();
        assert_eq!(
            fields[2].to_ascii_lowercase(),
            "udp",
            "non-UDP candidate {c}"
        );
        assert_eq!(fields[4], "127.0.0.1", "non-loopback candidate {c}");
        assert_eq!(fields[7], "host", "non-host candidate {c}");
    }
    assert!(!sdp.contains(".local"), "mDNS candidate in SDP:\n{sdp}");
}

fn assert_stream(kind: Kind, records: &[RtpRecord], expected_pt: u8) {
    let ssrc = records[0].ssrc;
    let mut last: Option<(u64, u16)> = None;
    for r in records {
        assert_eq!(r.payload_type, expected_pt, "{kind:?} payload type");
        assert_eq!(r.ssrc, ssrc, "{kind:?} SSRC changed");
        assert!(
            payload_intact(&r.payload),
            "{kind:?} payload corrupted: {:02x?}",
            r.payload
        );
        let counter = payload_counter(&r.payload).expect("counter");
        if let Some((prev_counter, prev_seq)) = last {
            assert!(
                counter > prev_counter,
                "{kind:?} counter not increasing: {prev_counter} then {counter}"
            );
            // Loopback: no loss or reordering expected, so sequence numbers and counters move
            // together.
            assert_eq!(
                r.sequence_number.wrapping_sub(prev_seq) as u64,
                counter - prev_counter,
                "{kind:?} sequence number gap does not match counter gap"
            );
        }
        if kind == Kind::Video {
            assert!(r.marker, "one-packet VP8 frame without marker bit");
            if is_regular_keyframe(counter) {
                assert!(
                    vp8_is_keyframe(&r.payload),
                    "frame {counter} should be a keyframe"
                );
            }
        }
        last = Some((counter, r.sequence_number));
    }
}

#[test]
fn generated_payloads_round_trip() {
    for n in [0u64, 1, 29, 30, 31, u64::MAX - 1] {
        let a = audio_payload(n);
        assert_eq!(payload_counter(&a), Some(n));
        assert!(payload_intact(&a));
        for key in [true, false] {
            let v = video_payload(n, key);
            assert_eq!(vp8_is_keyframe(&v), key);
            assert_eq!(payload_counter(&v), Some(n));
            assert!(payload_intact(&v));
        }
    }
    let mut bad = audio_payload(7);
    bad[15] ^= 1;
    assert!(!payload_intact(&bad));
    // A descriptor with X/I (15-bit PictureID) in front of a keyframe, as a forwarder may
    // write it, is still recognised.
    let mut ext = vec![0x90, 0x80, 0x81, 0x23];
    ext.extend_from_slice(&video_payload(5, true)[1..]);
    assert!(vp8_is_keyframe(&ext));
    assert_eq!(payload_counter(&ext), Some(5));
    assert!(payload_intact(&ext));
    // Not a partition start: never a keyframe.
    let mut cont = video_payload(5, true);
    cont[0] = 0x00;
    assert!(!vp8_is_keyframe(&cont));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_test_peers_exchange_audio_and_video_over_loopback() -> anyhow::Result<()> {
    let overall = Instant::now();
    let publisher = TestPeer::publisher().await?;
    let subscriber = TestPeer::subscriber().await?;

    // Offer/answer with candidates embedded in the SDP (gathering completes before return).
    let offer = publisher.create_offer().await?;
    assert_loopback_only(&offer);
    assert!(
        offer.contains("a=group:BUNDLE"),
        "offer without BUNDLE:\n{offer}"
    );
    assert!(
        offer.contains("a=rtcp-mux"),
        "offer without rtcp-mux:\n{offer}"
    );
    assert!(
        offer.contains("a=sendonly"),
        "offer without sendonly:\n{offer}"
    );
    assert!(
        offer.contains("opus/48000/2"),
        "offer without Opus:\n{offer}"
    );
    assert!(offer.contains("VP8/90000"), "offer without VP8:\n{offer}");
    let (audio_ssrc, video_ssrc) = publisher.send_ssrcs().expect("publisher SSRCs");
    assert!(offer.contains(&format!("a=ssrc:{audio_ssrc} ")));
    assert!(offer.contains(&format!("a=ssrc:{video_ssrc} ")));

    let answer = subscriber.answer(&offer).await?;
    assert_loopback_only(&answer);
    assert!(
        answer.contains("a=recvonly"),
        "answer not recvonly:\n{answer}"
    );
    assert!(
        answer.contains("a=setup:active"),
        "answer not active:\n{answer}"
    );
    publisher.set_remote_answer(&answer).await?;

    // Trickle API: candidates are reported too (and are the same loopback host candidates).
    for peer in [&publisher, &subscriber] {
        let cands = peer.local_candidates().await;
        assert!(!cands.is_empty(), "no trickle candidates reported");
        for (c, mid, idx) in &cands {
            assert!(c.starts_with("candidate:"), "{c}");
            assert!(c.contains(" 127.0.0.1 "), "{c}");
            assert!(!mid.is_empty());
            assert_eq!(*idx, 0);
        }
    }

    publisher.wait_connected(STEP).await?;
    subscriber.wait_connected(STEP).await?;
    let connected_at = Instant::now();

    let sending = publisher.start_sending().await?;

    // 50 audio packets (~1 s) and 40 video frames (~1.3 s, so that the PLI below falls in
    // the middle of a keyframe interval).
    let audio = subscriber.wait_received(Kind::Audio, 50, STEP).await?;
    let video = subscriber.wait_received(Kind::Video, 40, STEP).await?;
    assert_stream(Kind::Audio, &audio, OPUS_PT);
    assert_stream(Kind::Video, &video, VP8_PT);
    assert_eq!(audio[0].ssrc, audio_ssrc);
    assert_eq!(video[0].ssrc, video_ssrc);
    assert!(
        audio[0].marker,
        "first audio packet should carry the marker bit"
    );

    // The first video packet is a keyframe (nothing is lost on loopback), and in any case a
    // keyframe arrives within a second of the first video packet.
    assert!(
        vp8_is_keyframe(&video[0].payload),
        "first video packet is not a keyframe"
    );
    let first_key = video
        .iter()
        .find(|r| vp8_is_keyframe(&r.payload))
        .expect("a keyframe");
    assert!(first_key.received_at.duration_since(video[0].received_at) <= Duration::from_secs(1));

    // PLI from the subscriber reaches the publisher, which answers with a keyframe on its
    // next frame (well before the next regular keyframe, which is up to 30 frames away).
    let last_counter = |peer: &TestPeer| {
        peer.received()
            .video
            .last()
            .and_then(|r| payload_counter(&r.payload))
            .expect("video counter")
    };
    let at_pli = last_counter(&subscriber);
    if std::env::var_os("WEBRTC_PEER_PRINT_SDP").is_some() {
        eprintln!("--- offer ---\n{offer}\n--- answer ---\n{answer}");
    }
    subscriber.send_pli().await?;
    let deadline = tokio::time::Instant::now() + STEP;
    while publisher.keyframe_requests() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "publisher saw no PLI within {STEP:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    subscriber
        .wait_received_until(Kind::Video, STEP, |recs| {
            recs.iter().any(|r| {
                vp8_is_keyframe(&r.payload)
                    && payload_counter(&r.payload).is_some_and(|c| c > at_pli && c <= at_pli + 5)
            })
        })
        .await
        .context("no keyframe within 5 frames of the PLI")?;
    assert!(sending.forced_keyframes_sent() >= 1);

    // Everything received so far is still a clean stream.
    let all = subscriber.received();
    assert_stream(Kind::Audio, &all.audio, OPUS_PT);
    assert_stream(Kind::Video, &all.video, VP8_PT);
    assert_eq!(sending.write_errors(), 0);
    assert!(sending.audio_sent() >= all.audio.len() as u64);
    assert!(sending.keyframes_sent() >= 2);
    // The publisher received nothing: its transceivers are sendonly.
    assert!(publisher.received().audio.is_empty() && publisher.received().video.is_empty());

    drop(sending);
    publisher.close().await?;
    subscriber.close().await?;
    publisher.close().await?; // idempotent

    eprintln!(
        "self-test: connected in {:?}, media checks done {:?} after connect ({} audio, {} video packets)",
        connected_at.duration_since(overall),
        connected_at.elapsed(),
        all.audio.len(),
        all.video.len()
    );
    Ok(())
}

/// A subscriber can also be the offerer (recvonly audio + video), with a publisher answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_offers_recvonly_and_publisher_answers() -> anyhow::Result<()> {
    let subscriber = TestPeer::subscriber().await?;
    let publisher = TestPeer::publisher().await?;
    let offer = subscriber.create_offer().await?;
    assert_loopback_only(&offer);
    assert_eq!(offer.matches("a=recvonly").count(), 2, "offer:\n{offer}");
    let answer = publisher.answer(&offer).await?;
    subscriber.set_remote_answer(&answer).await?;
    publisher.wait_connected(STEP).await?;
    subscriber.wait_connected(STEP).await?;
    let _sending = publisher.start_sending().await?;
    let audio = subscriber.wait_received(Kind::Audio, 10, STEP).await?;
    let video = subscriber.wait_received(Kind::Video, 5, STEP).await?;
    assert_stream(Kind::Audio, &audio, OPUS_PT);
    assert_stream(Kind::Video, &video, VP8_PT);
    publisher.close().await?;
    subscriber.close().await?;
    Ok(())
}

/// Gateway-like counterpart as answerer: the browser-like publisher offers to an ICE-lite,
/// DTLS-server subscriber (the publisher must become ICE controlling and DTLS client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_offers_to_ice_lite_dtls_server() -> anyhow::Result<()> {
    let publisher = TestPeer::publisher().await?;
    let lite = TestPeer::subscriber_with(PeerMode::IceLiteServer).await?;
    let offer = publisher.create_offer().await?;
    let answer = lite.answer(&offer).await?;
    assert!(answer.contains("a=ice-lite"), "answer:\n{answer}");
    assert!(answer.contains("a=setup:passive"), "answer:\n{answer}");
    publisher.set_remote_answer(&answer).await?;
    publisher.wait_connected(STEP).await?;
    lite.wait_connected(STEP).await?;
    let _sending = publisher.start_sending().await?;
    let video = lite.wait_received(Kind::Video, 5, STEP).await?;
    assert_stream(Kind::Video, &video, VP8_PT);
    assert!(vp8_is_keyframe(&video[0].payload));
    let audio = lite.wait_received(Kind::Audio, 10, STEP).await?;
    assert_stream(Kind::Audio, &audio, OPUS_PT);
    publisher.close().await?;
    lite.close().await?;
    Ok(())
}

/// Gateway-like counterpart as offerer: an ICE-lite publisher offers (actpass) to the
/// browser-like subscriber, which answers `a=setup:active` and must take the ICE
/// controlling role. Candidates are trickled instead of being in the SDP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_lite_offerer_to_subscriber_with_trickled_candidates() -> anyhow::Result<()> {
    fn strip_candidates(sdp: &str) -> String {
        sdp.lines()
            .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
            .map(|l| format!("{l}\r\n"))
            .collect()
    }
    let lite = TestPeer::publisher_with(PeerMode::IceLiteServer).await?;
    let subscriber = TestPeer::subscriber().await?;
    let offer = lite.create_offer().await?;
    assert!(offer.contains("a=ice-lite"), "offer:\n{offer}");
    let answer = subscriber.answer(&strip_candidates(&offer)).await?;
    assert!(answer.contains("a=setup:active"), "answer:\n{answer}");
    lite.set_remote_answer(&strip_candidates(&answer)).await?;
    for (c, mid, idx) in lite.local_candidates().await {
        subscriber
            .add_remote_candidate(&c, Some(&mid), Some(idx))
            .await?;
    }
    for (c, mid, idx) in subscriber.local_candidates().await {
        lite.add_remote_candidate(&c, Some(&mid), Some(idx)).await?;
    }
    subscriber.wait_connected(STEP).await?;
    lite.wait_connected(STEP).await?;
    let _sending = lite.start_sending().await?;
    let video = subscriber.wait_received(Kind::Video, 5, STEP).await?;
    assert_stream(Kind::Video, &video, VP8_PT);
    let audio = subscriber.wait_received(Kind::Audio, 10, STEP).await?;
    assert_stream(Kind::Audio, &audio, OPUS_PT);
    lite.close().await?;
    subscriber.close().await?;
    Ok(())
}
