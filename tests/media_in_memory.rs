//! The SFU core on a simulated network (media::testkit): loss recovery by NACK, sender
//! reports on the subscriber leg, keyframe-first for a subscriber, for both SRTP profiles.

use std::time::Duration;

use media::peer::Kind;
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

/// Sends `frames` video frames (one packet each; the first a keyframe), 33 ms apart.
fn send_video(net: &mut Net, p: usize, from: u64, frames: u64) {
    for i in from..from + frames {
        let mut out = Vec::new();
        let now = net.now;
        net.clients[p].make_rtp(now, Kind::Video, vp8_payload(1200, i == 0, i), &mut out);
        let addr = net.clients[p].addr;
        for d in out {
            let sfu = net.sfu_addr;
            let mut q = Vec::new();
            net.inject(addr, &d, &mut |to, data: &[u8]| {
                q.push((to, data.to_vec()));
                true
            });
            let _ = sfu;
            net.deliver(q);
        }
        let until = net.now + Duration::from_millis(33);
        net.run_until(Duration::from_millis(40), |net| net.now >= until);
    }
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
    let seen = dropped.clone();
    net.filter = Some(Box::new(move |_from, to, data| {
        // SRTP video from the SFU is large; drop one such datagram once.
        if to == lossy && seen.get() == 0 && data.len() > 1000 && data[0] & 0xc0 == 0x80 {
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
    assert_eq!(counters(&net, subs[1]), (0..30).collect::<Vec<_>>());
}

#[test]
fn subscribers_get_sender_reports() {
    let (mut net, p, subs) = room(SrtpPolicy::Default, 1);
    send_video(&mut net, p, 0, 90);
    net.run_until(Duration::from_secs(3), |net| {
        net.clients[subs[0]].sender_reports > 0
    });
    assert!(
        net.clients[subs[0]].sender_reports > 0,
        "no RTCP sender report reached the subscriber"
    );
}

#[test]
fn video_waits_for_a_keyframe() {
    let (mut net, p, subs) = room(SrtpPolicy::Default, 1);
    // Interframes only: nothing reaches the subscriber, and the SFU asks for a keyframe.
    send_video(&mut net, p, 1, 5);
    assert!(net.clients[subs[0]].video.is_empty());
    assert!(net.sfu.stats().keyframe_requests > 0);
    send_video(&mut net, p, 0, 1);
    send_video(&mut net, p, 7, 3);
    assert_eq!(counters(&net, subs[0]), vec![0, 7, 8, 9]);
}
