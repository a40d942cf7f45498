//! Forged media packets on the simulated network (media::testkit), for every SRTP profile
//! rtc negotiates: an attacker who knows what travels in clear (the ICE ufrag, the SSRCs,
//! the SRTCP index) but not the keys or the ICE password changes nothing.
//!
//! * SRTCP with E = 0 (and with E = 1) and a bad tag: no keyframe request reaches the
//!   publisher, and the real subscriber's next RTCP (index far below the forged one) is still
//!   taken (the replay window did not move).
//! * SRTP with a bad tag far ahead in sequence, before the stream's first real packet and
//!   while it runs: the real stream keeps being forwarded.
//! * STUN naming a peer's ufrag without valid MESSAGE-INTEGRITY (none, or signed with another
//!   password) from a new address: no address latched, no answer sent there; from the peer's
//!   own address (spoofed): no consent, so a vanished browser still expires.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use media::testkit::Net;
use media::{PeerEvent, PeerId, SrtpPolicy};

struct Room {
    net: Net,
    publisher: PeerId,
    p: usize,
    subscriber: PeerId,
    s: usize,
}

fn room(srtp: SrtpPolicy) -> Room {
    let mut net = Net::new(srtp);
    let (publisher, p) = net.add_publisher();
    let (subscriber, s) = net.add_subscriber(publisher);
    assert!(
        net.run_until(Duration::from_secs(10), |net| net.all_connected(2)),
        "{srtp:?}: peers did not connect"
    );
    Room {
        net,
        publisher,
        p,
        subscriber,
        s,
    }
}

fn send_video(net: &mut Net, p: usize, from: u64, frames: u64) {
    net.send_video(p, from, frames);
}

fn counters(net: &Net, c: usize) -> Vec<u64> {
    let mut got: Vec<u64> = net.clients[c]
        .video
        .iter()
        .map(|p| u64::from_be_bytes(p.payload[2..10].try_into().unwrap()))
        .collect();
    got.sort_unstable();
    got.dedup();
    got
}

fn is_rtcp(data: &[u8]) -> bool {
    data.len() > 8 && data[0] & 0xc0 == 0x80 && (192..=223).contains(&data[1])
}

/// The SRTCP trailer of a profile: (auth tag length, whether the tag precedes the index).
fn srtcp_layout(srtp: SrtpPolicy) -> (usize, bool) {
    match srtp {
        SrtpPolicy::AesGcm | SrtpPolicy::AesGcm256 => (16, true),
        SrtpPolicy::AesCm32 => (4, false),
        _ => (10, false),
    }
}

/// A PLI "from" `sender_ssrc` about `media_ssrc`, as SRTCP with index `index`, the E flag
/// `encrypted`, and a tag of the right length that is not the right tag.
fn forged_pli(
    srtp: SrtpPolicy,
    sender_ssrc: [u8; 4],
    media_ssrc: u32,
    index: u32,
    encrypted: bool,
) -> Vec<u8> {
    let (tag_len, tag_first) = srtcp_layout(srtp);
    let mut p = vec![0x81, 206, 0, 2];
    p.extend_from_slice(&sender_ssrc);
    p.extend_from_slice(&media_ssrc.to_be_bytes());
    let e = (index & 0x7fff_ffff) | if encrypted { 0x8000_0000 } else { 0 };
    let tag = vec![0x5a; tag_len];
    if tag_first {
        p.extend_from_slice(&tag);
        p.extend_from_slice(&e.to_be_bytes());
    } else {
        p.extend_from_slice(&e.to_be_bytes());
        p.extend_from_slice(&tag);
    }
    p
}

#[test]
fn forged_srtcp_makes_no_keyframe_request_and_moves_no_replay_window() {
    for srtp in SrtpPolicy::EACH_PROFILE {
        let Room { mut net, p, s, .. } = room(srtp);
        let sub_addr = net.clients[s].addr;
        let seen: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
        let log = seen.clone();
        net.filter = Some(Box::new(move |from: SocketAddr, _to, data: &[u8]| {
            if from == sub_addr && is_rtcp(data) {
                log.borrow_mut().push(data.to_vec());
            }
            true
        }));
        send_video(&mut net, p, 0, 30);
        assert!(
            net.run_until(Duration::from_secs(5), |_| !seen.borrow().is_empty()),
            "{srtp:?}: the subscriber sent no RTCP"
        );
        let genuine = seen.borrow().last().cloned().unwrap();
        let (tag_len, tag_first) = srtcp_layout(srtp);
        let at = if tag_first {
            genuine.len() - 4
        } else {
            genuine.len() - tag_len - 4
        };
        let index = u32::from_be_bytes(genuine[at..at + 4].try_into().unwrap()) & 0x7fff_ffff;
        let sender_ssrc: [u8; 4] = genuine[4..8].try_into().unwrap();
        let media_ssrc = net.clients[s].video.last().unwrap().header.ssrc;
        // Past the keyframe request pacing (500 ms), so a forged PLI could count.
        let until = net.now + Duration::from_millis(700);
        net.run_until(Duration::from_secs(1), |net| net.now >= until);
        let before = net.core().stats().keyframe_requests;

        let sfu = net.sfu_addr;
        for encrypted in [false, true] {
            let forged = forged_pli(srtp, sender_ssrc, media_ssrc, index + 1000, encrypted);
            net.send_raw(sub_addr, sfu, forged);
        }
        let until = net.now + Duration::from_millis(100);
        net.run_until(Duration::from_secs(1), |net| net.now >= until);
        assert_eq!(
            net.core().stats().keyframe_requests,
            before,
            "{srtp:?}: a forged PLI became a keyframe request"
        );

        // The subscriber's own PLI, with an index far below the forged ones, still counts.
        let now = net.now;
        net.clients[s].request_keyframe(now);
        let asked = net.run_until(Duration::from_secs(1), |net| {
            net.core().stats().keyframe_requests > before
        });
        assert!(
            asked,
            "{srtp:?}: the real PLI was refused (the forged index moved the replay window)"
        );
    }
}

/// An SRTP datagram with the publisher's video SSRC, sequence `seq`, and a bad tag.
fn forged_rtp(net: &Net, p: usize, seq: u16) -> Vec<u8> {
    let ssrc = net.clients[p].senders.unwrap()[1].1;
    let mut d = vec![0x80, media::transport::codecs::VP8_PT];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&123_456u32.to_be_bytes());
    d.extend_from_slice(&ssrc.to_be_bytes());
    d.extend_from_slice(&[0x10, 0x10]);
    d.extend_from_slice(&[0xa5; 200]);
    d
}

#[test]
fn forged_srtp_far_ahead_does_not_stop_the_real_stream() {
    for srtp in SrtpPolicy::EACH_PROFILE {
        let Room { mut net, p, s, .. } = room(srtp);
        let (sfu, from) = (net.sfu_addr, net.clients[p].addr);
        // Before the stream's first real packet (the publisher client starts at 5001), then
        // while it runs: +30000, the "minutes of dropped audio" of the review.
        let ahead = forged_rtp(&net, p, 5001u16.wrapping_add(30_000));
        net.send_raw(from, sfu, ahead);
        send_video(&mut net, p, 0, 10);
        let ahead = forged_rtp(&net, p, 5011u16.wrapping_add(30_000));
        net.send_raw(from, sfu, ahead);
        send_video(&mut net, p, 10, 10);
        net.run_until(Duration::from_secs(1), |net| counters(net, s).len() >= 20);
        assert_eq!(
            counters(&net, s),
            (0..20).collect::<Vec<_>>(),
            "{srtp:?}: forged packets cost real ones"
        );
        assert_eq!(net.core().stats().rtp_forwarded, 20, "{srtp:?}");
    }
}

/// A STUN Binding request naming `ufrag`, unsigned, or signed with `pwd` when given.
fn binding_request(ufrag: &str, pwd: Option<&str>) -> Vec<u8> {
    use rtc::stun::integrity::MessageIntegrity;
    use rtc::stun::message::{Message, Setter, BINDING_REQUEST};
    use rtc::stun::textattrs::TextAttribute;
    let provider = rtc::crypto::default_provider().unwrap();
    let username = TextAttribute::new(
        rtc::stun::attributes::ATTR_USERNAME,
        format!("{ufrag}:attacker"),
    );
    let mut setters: Vec<Box<dyn Setter + '_>> =
        vec![Box::new(BINDING_REQUEST), Box::new(username)];
    if let Some(pwd) = pwd {
        setters.push(Box::new(
            MessageIntegrity::new_short_term_integrity_with_provider(pwd.into(), provider.crypto()),
        ));
    }
    setters.push(Box::new(rtc::stun::fingerprint::FINGERPRINT));
    let mut m = Message::new();
    m.build(&setters).unwrap();
    m.raw
}

#[test]
fn stun_without_valid_integrity_latches_no_address_and_is_no_consent() {
    for srtp in [SrtpPolicy::AesGcm, SrtpPolicy::AesCm] {
        let Room {
            mut net,
            subscriber,
            s,
            publisher,
            ..
        } = room(srtp);
        let sub_addr = net.clients[s].addr;
        assert_eq!(net.core().peer_addresses(subscriber), vec![sub_addr]);
        let ufrag = net.core().ice_ufrag(subscriber).unwrap().to_string();
        let attacker: SocketAddr = "10.99.200.1:5000".parse().unwrap();
        let answered: Rc<RefCell<usize>> = Rc::default();
        let count = answered.clone();
        net.filter = Some(Box::new(move |_from, to: SocketAddr, _data: &[u8]| {
            if to == attacker {
                *count.borrow_mut() += 1;
            }
            true
        }));
        let sfu = net.sfu_addr;
        for forged in [
            binding_request(&ufrag, None),
            binding_request(&ufrag, Some("not-the-ice-password-of-this-peer")),
        ] {
            net.send_raw(attacker, sfu, forged);
        }
        net.step(Duration::from_millis(1));
        assert_eq!(
            net.core().peer_addresses(subscriber),
            vec![sub_addr],
            "{srtp:?}: a forged check latched an address"
        );
        assert_eq!(
            *answered.borrow(),
            0,
            "{srtp:?}: the SFU answered the attacker"
        );

        // The subscriber's browser goes silent; forged checks "from" its address (spoofed)
        // must not keep it alive.
        let spoofed = binding_request(&ufrag, None);
        let count = answered.clone();
        net.filter = Some(Box::new(
            move |from: SocketAddr, to: SocketAddr, _d: &[u8]| {
                if to == attacker {
                    *count.borrow_mut() += 1;
                }
                from != sub_addr
            },
        ));
        let mut closed = false;
        for _ in 0..40 {
            // Straight into the SFU: the filter drops everything the client itself sends.
            net.inject(sub_addr, &spoofed, &mut |_, _, _: &[u8]| true);
            let until = net.now + Duration::from_secs(1);
            net.run_until(Duration::from_secs(2), |net| net.now >= until);
            while let Ok(ev) = net.events.try_recv() {
                if ev.peer == subscriber && matches!(ev.event, PeerEvent::Closed(_)) {
                    closed = true;
                }
            }
            if closed {
                break;
            }
        }
        assert!(
            closed,
            "{srtp:?}: forged STUN kept a vanished subscriber's consent alive"
        );
        // The publisher, whose browser still checks, is still there.
        assert_eq!(net.core().peer_addresses(publisher).len(), 1, "{srtp:?}");
    }
}
