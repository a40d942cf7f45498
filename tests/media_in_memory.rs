//! The SFU core on a simulated network (media::testkit): both SRTP profiles, loss recovery by
//! NACK, sender reports on the subscriber leg, keyframe-first, simulcast layer choice.

use std::time::Duration;

use media::testkit::{vp8_payload, Net};
use media::SrtpPolicy;

fn room(srtp: SrtpPolicy, subscribers: usize) -> (Net, usize, Vec<usize>) {
    let mut net = Net::new(srtp);
    let (publisher, p) = net.add_publisher();
    let subs: Vec<usize> = (0..subscribers)
        .map(|_| net.add_subscriber(publisher).1)
        .collect();
    let n = 1 + subscribers;
    assert!(
        net.run_until(Duration::from_secs(10), |net| net.all_connected(n)),
        "peers did not connect"
    );
    (net, p, subs)
}

fn send_video(net: &mut Net, p: usize, from: u64, frames: u64) {
    net.send_video(p, from, frames);
}

fn counters(net: &Net, c: usize) -> Vec<u64> {
    net.clients[c]
        .video
        .iter()
        .map(|p| u64::from_be_bytes(p.payload[2..10].try_into().unwrap()))
        .collect()
}

#[test]
fn media_flows_with_both_srtp_profiles() {
    for srtp in [SrtpPolicy::AesGcm, SrtpPolicy::AesCm, SrtpPolicy::Default] {
        let (mut net, p, subs) = room(srtp, 2);
        send_video(&mut net, p, 0, 20);
        for &s in &subs {
            let got = counters(&net, s);
            assert_eq!(got, (0..20).collect::<Vec<_>>(), "{srtp:?}");
        }
    }
}

#[test]
fn a_lost_packet_is_recovered_by_nack() {
    let (mut net, p, subs) = room(SrtpPolicy::Default, 2);
    let lossy = net.clients[subs[0]].addr;
    send_video(&mut net, p, 0, 10);
    // Drop the next forwarded video packet to the first subscriber (only the first copy).
    let dropped = std::rc::Rc::new(std::cell::Cell::new(0));
    let rtx = std::rc::Rc::new(std::cell::Cell::new(0));
    let (seen, seen_rtx) = (dropped.clone(), rtx.clone());
    net.filter = Some(Box::new(move |_from, to, data| {
        let is_rtp = data.len() > 12 && data[0] & 0xc0 == 0x80 && !(200..=206).contains(&data[1]);
        if to == lossy && is_rtp && data[1] & 0x7f == media::transport::codecs::RTX_PT {
            seen_rtx.set(seen_rtx.get() + 1);
        }
        // SRTP video from the SFU is large; drop one such datagram once.
        if to == lossy && seen.get() == 0 && data.len() > 1000 && is_rtp {
            seen.set(1);
            return false;
        }
        true
    }));
    send_video(&mut net, p, 10, 20);
    assert_eq!(dropped.get(), 1, "the loss filter dropped nothing");
    // Before recovery the lossy subscriber had a hole; the NACK brings the packet back.
    net.run_until(Duration::from_secs(2), |net| {
        counters(net, subs[0]).len() >= 30
    });
    let mut got = counters(&net, subs[0]);
    got.sort_unstable();
    got.dedup();
    assert_eq!(
        got,
        (0..30).collect::<Vec<_>>(),
        "the lossy subscriber did not recover"
    );
    assert!(
        rtx.get() >= 1,
        "the retransmission did not use RTX (RFC 4588)"
    );
    assert!(
        net.core().stats().retransmissions >= 1,
        "the retransmission was not the SFU's own (media::srtp path)"
    );
    assert_eq!(counters(&net, subs[1]), (0..30).collect::<Vec<_>>());
}

#[test]
fn rtcp_reports_on_both_legs() {
    let (mut net, p, subs) = room(SrtpPolicy::Default, 1);
    send_video(&mut net, p, 0, 90);
    net.run_until(Duration::from_secs(3), |net| {
        net.clients[subs[0]].sender_reports > 0 && net.clients[p].receiver_reports > 0
    });
    assert!(
        net.clients[subs[0]].sender_reports > 0,
        "no RTCP sender report reached the subscriber"
    );
    assert!(
        net.clients[p].receiver_reports > 0,
        "no RTCP receiver report reached the publisher"
    );
    // The sender reports count what was forwarded (the SFU's own send path keeps the counts):
    // a report after the last frame counts every packet.
    let ssrc = net.clients[subs[0]]
        .video
        .last()
        .expect("video")
        .header
        .ssrc;
    let reports_before = net.clients[subs[0]].sender_report_log.len();
    net.run_until(Duration::from_secs(3), |net| {
        net.clients[subs[0]].sender_report_log[reports_before..]
            .iter()
            .any(|r| r.0 == ssrc)
    });
    let video = &net.clients[subs[0]].video;
    let last_ts = video.last().expect("video").header.timestamp;
    let (_, packets, octets, rtp_time) = *net.clients[subs[0]]
        .sender_report_log
        .iter()
        .rev()
        .find(|r| r.0 == ssrc)
        .expect("a sender report for the forwarded video SSRC");
    assert_eq!(packets as usize, video.len(), "packet count");
    assert_eq!(octets as usize, video.len() * 1200, "octet count");
    // The RTP time runs on from the last frame at 90 kHz (the report came after it).
    assert!(
        rtp_time.wrapping_sub(last_ts) < 90_000 * 3,
        "rtp time {rtp_time} vs {last_ts}"
    );
}

#[test]
fn a_vanished_browser_is_detected_by_consent_expiry() {
    let (mut net, p, _subs) = room(SrtpPolicy::Default, 1);
    while net.events.try_recv().is_ok() {}
    // The publisher's browser vanishes: nothing more from it (no close, no DTLS alert).
    let gone = net.clients[p].addr;
    net.filter = Some(Box::new(move |from, _to, _data| from != gone));
    let started = net.now;
    let mut closed = None;
    net.run_until(Duration::from_secs(40), |net| {
        while let Ok(ev) = net.events.try_recv() {
            if let media::PeerEvent::Closed(reason) = ev.event {
                closed.get_or_insert((reason, net.now - started));
            }
        }
        closed.is_some()
    });
    let (reason, after) = closed.expect("the vanished publisher was never closed");
    eprintln!("vanished publisher closed after {after:?}: {reason}");
    // Whichever notices first: rtc's ICE agent (the connection fails) or our consent timer.
    assert!(
        reason == "ICE consent expired" || reason == "connection closed",
        "{reason}"
    );
    assert!(after <= Duration::from_secs(31), "detected after {after:?}");
}

#[test]
fn video_waits_for_a_keyframe() {
    let (mut net, p, subs) = room(SrtpPolicy::Default, 1);
    // Interframes only: nothing reaches the subscriber, and the SFU asks for a keyframe.
    send_video(&mut net, p, 1, 5);
    assert!(net.clients[subs[0]].video.is_empty());
    assert!(net.core().stats().keyframe_requests > 0);
    send_video(&mut net, p, 0, 1);
    send_video(&mut net, p, 7, 3);
    assert_eq!(counters(&net, subs[0]), vec![0, 7, 8, 9]);
}

/// Sends `frames` frames on each of the three layers (payloads 100, 400, 1200 bytes; a
/// keyframe on every layer each 10th frame), 33 ms apart.
fn send_simulcast(net: &mut Net, p: usize, from: u64, frames: u64) {
    for i in from..from + frames {
        for (layer, size) in [(0usize, 100usize), (1, 400), (2, 1200)] {
            let mut out = Vec::new();
            let now = net.now;
            net.clients[p].make_layer_rtp(now, layer, vp8_payload(size, i % 10 == 0, i), &mut out);
            let addr = net.clients[p].addr;
            for d in out {
                let mut q = Vec::new();
                net.inject(addr, &d, &mut |_, to, data: &[u8]| {
                    q.push((to, data.to_vec()));
                    true
                });
                net.deliver(q);
            }
        }
        let until = net.now + Duration::from_millis(33);
        net.run_until(Duration::from_millis(40), |net| net.now >= until);
    }
}

/// Sizes of the video payloads a client received, and whether its sequence numbers are
/// continuous (one stream, no gaps, across layer switches).
fn sizes_and_continuity(net: &Net, c: usize) -> (Vec<usize>, bool) {
    let v = &net.clients[c].video;
    let sizes = v.iter().map(|p| p.payload.len()).collect();
    let continuous = v
        .windows(2)
        .all(|w| w[1].header.sequence_number == w[0].header.sequence_number.wrapping_add(1))
        && v.iter().all(|p| p.header.ssrc == v[0].header.ssrc);
    (sizes, continuous)
}

#[test]
fn simulcast_layer_follows_bandwidth_requests() {
    let mut net = Net::new(SrtpPolicy::Default);
    let (publisher, p) = net.add_simulcast_publisher(&["q", "h", "f"]);
    let (_, a) = net.add_subscriber(publisher);
    let (b_id, b) = net.add_subscriber(publisher);
    assert!(net.run_until(Duration::from_secs(10), |net| net.all_connected(3)));
    // B can take 50 kbit/s: the lowest layer (~24 kbit/s) only.
    net.set_forward(
        b_id,
        media::ForwardOptions {
            bitrate: Some(50_000),
            ..Default::default()
        },
    );
    send_simulcast(&mut net, p, 0, 100);
    let (a_sizes, a_ok) = sizes_and_continuity(&net, a);
    let (b_sizes, b_ok) = sizes_and_continuity(&net, b);
    assert!(
        a_ok && b_ok,
        "a stream is not continuous across layer switches"
    );
    // After the first measurement window, A gets the full layer and B the lowest.
    assert_eq!(a_sizes.last(), Some(&1200), "A: {a_sizes:?}");
    assert_eq!(b_sizes.last(), Some(&100), "B: {b_sizes:?}");
    assert!(
        b_sizes.iter().all(|&s| s == 100),
        "B got a layer above its limit: {b_sizes:?}"
    );
    // B lifts its limit: it moves up at the next keyframe, still one continuous stream.
    net.set_forward(
        b_id,
        media::ForwardOptions {
            bitrate: Some(0),
            ..Default::default()
        },
    );
    send_simulcast(&mut net, p, 100, 60);
    let (b_sizes, b_ok) = sizes_and_continuity(&net, b);
    assert!(b_ok);
    assert_eq!(b_sizes.last(), Some(&1200), "B: {b_sizes:?}");
}

#[test]
fn two_shards_each_forward_their_own_room_and_share_nothing() {
    let mut net = Net::with_shards(SrtpPolicy::AesGcm, 2);
    let (p0, c0) = net.add_publisher();
    let (_, s0) = net.add_subscriber(p0);
    net.placement = 1;
    let (p1, c1) = net.add_publisher();
    let (_, s1) = net.add_subscriber(p1);
    assert!(
        net.run_until(Duration::from_secs(10), |net| net.all_connected(4)),
        "peers did not connect"
    );
    assert_eq!((p0.shard().0, p1.shard().0), (0, 1));
    send_video(&mut net, c0, 0, 10);
    assert_eq!(counters(&net, s0), (0..10).collect::<Vec<_>>());
    assert!(
        counters(&net, s1).is_empty(),
        "room 0's media stays in room 0"
    );
    send_video(&mut net, c1, 0, 10);
    assert_eq!(counters(&net, s1), (0..10).collect::<Vec<_>>());
    assert_eq!(counters(&net, s0).len(), 10);
    let (a, b) = (net.cores[0].stats(), net.cores[1].stats());
    assert_eq!((a.peers, b.peers), (2, 2));
    assert!(a.rtp_forwarded >= 10 && b.rtp_forwarded >= 10);
    // A packet of a shard-0 peer sent to shard 1's port is nobody's there.
    let wrong = std::net::SocketAddr::new(net.sfu_addr.ip(), net.sfu_addr.port() + 1);
    let from = net.clients[c0].addr;
    let before = net.cores[1].stats().datagrams_dropped;
    let mut out = Vec::new();
    let now = net.now;
    net.clients[c0].make_rtp(
        now,
        media::Kind::Video,
        vp8_payload(100, false, 50),
        &mut out,
    );
    for d in out {
        net.send_raw(from, wrong, d);
    }
    net.step(Duration::from_millis(1));
    assert_eq!(net.cores[1].stats().datagrams_dropped, before + 1);
    assert_eq!(counters(&net, s1).len(), 10, "nothing crossed over");
}
