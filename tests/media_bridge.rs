//! The WebRTC <-> plain RTP bridge of a 1:1 call, on the simulated network of media::testkit:
//! PCMA both ways with payloads intact, payload types and SSRCs mapped, symmetric RTP latch,
//! telephone-event both ways, RTCP sender reports toward the phone, garbage dropped, and a
//! call with no common codec refused.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use media::rtp::{is_rtcp, parse_rtp, write_rtp};
use media::testkit::Net;
use media::{MediaError, SrtpPolicy};

const LEG: &str = "10.99.200.1:30000";
const PHONE: &str = "10.99.201.1:17000";

fn answer(port: u16, codecs: &str) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 10.99.201.1\r\ns=-\r\nc=IN IP4 10.99.201.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {codecs}\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:18 G729/8000\r\na=sendrecv\r\n"
    )
}

fn call(net: &mut Net) -> (media::PeerId, usize) {
    let (c, offer) = net.add_caller();
    let leg: SocketAddr = LEG.parse().unwrap();
    let (id, sip_offer) = net.bridge_offer(&offer, leg).unwrap();
    assert!(
        sip_offer.contains("m=audio 30000 RTP/AVP 111 8 126"),
        "{sip_offer}"
    );
    assert!(sip_offer.contains("c=IN IP4 10.99.200.1"));
    net.add_phone(PHONE.parse().unwrap());
    net.bridge_answer(id, c, &answer(17000, "8 101")).unwrap();
    assert!(net.run_until(Duration::from_secs(10), |net| net.all_connected(1)));
    (id, c)
}

fn phone_rtp(net: &Net) -> Vec<(SocketAddr, Vec<u8>)> {
    net.phones[&PHONE.parse::<SocketAddr>().unwrap()]
        .iter()
        .filter(|(_, d)| !is_rtcp(d))
        .cloned()
        .collect()
}

#[test]
fn audio_flows_both_ways_with_mapping_and_latching() {
    let mut net = Net::new(SrtpPolicy::Default);
    let (_, c) = call(&mut net);
    let leg: SocketAddr = LEG.parse().unwrap();
    let phone: SocketAddr = PHONE.parse().unwrap();

    // Browser -> phone: PCMA (PT 8) and a DTMF event (browser PT 126 -> phone PT 101).
    for i in 0..20u16 {
        let payload = Bytes::from(vec![i as u8; 160]);
        net.caller_send(c, 8, 100 + i, 160 * u32::from(i), payload);
        net.run_until(Duration::from_millis(20), |_| false);
    }
    net.caller_send(c, 126, 120, 3200, Bytes::from_static(&[5, 0x0a, 0, 160]));
    net.run_until(Duration::from_millis(50), |_| false);
    let got = phone_rtp(&net);
    assert_eq!(got.len(), 21, "phone got {} RTP packets", got.len());
    let first = parse_rtp(&got[0].1).unwrap();
    for (i, (from, data)) in got.iter().take(20).enumerate() {
        assert_eq!(*from, leg, "sent from the leg's own port");
        let v = parse_rtp(data).unwrap();
        assert_eq!(v.payload_type, 8);
        assert_eq!(v.payload, &vec![i as u8; 160][..], "payload {i} damaged");
        assert_eq!(v.ssrc, first.ssrc);
        assert_eq!(
            v.sequence_number,
            first.sequence_number.wrapping_add(i as u16)
        );
    }
    let dtmf = parse_rtp(&got[20].1).unwrap();
    assert_eq!(
        (dtmf.payload_type, dtmf.payload),
        (101, &[5, 0x0a, 0, 160][..])
    );

    // Phone -> browser, from another port of the negotiated host (symmetric latch).
    let latched: SocketAddr = "10.99.201.1:17002".parse().unwrap();
    net.add_phone(latched);
    for i in 0..15u16 {
        let mut b = Vec::new();
        write_rtp(
            &mut b,
            i == 0,
            8,
            5000 + i,
            8000 + 160 * u32::from(i),
            0xfeed,
            &[0x55 ^ i as u8; 160],
        );
        net.phone_send(latched, leg, b);
        net.run_until(Duration::from_millis(20), |_| false);
    }
    // A stranger's packets and garbage are dropped.
    let mut b = Vec::new();
    write_rtp(&mut b, false, 8, 1, 1, 0xbad, &[0xee; 160]);
    net.phone_send("10.66.66.66:17000".parse().unwrap(), leg, b);
    for g in [vec![], vec![0x80], vec![0xff; 40], vec![0x80, 200, 0, 1]] {
        net.phone_send(latched, leg, g);
    }
    let mut dtmf = Vec::new();
    write_rtp(
        &mut dtmf,
        true,
        101,
        5015,
        10_400,
        0xfeed,
        &[1, 0x80, 0, 160],
    );
    net.phone_send(latched, leg, dtmf);
    net.run_until(Duration::from_millis(100), |_| false);
    let audio = &net.clients[c].audio;
    let pcma: Vec<_> = audio
        .iter()
        .filter(|p| p.header.payload_type == 8)
        .collect();
    assert_eq!(pcma.len(), 15, "browser got {} PCMA packets", pcma.len());
    for (i, p) in pcma.iter().enumerate() {
        assert_eq!(&p.payload[..], &[0x55 ^ i as u8; 160][..]);
    }
    assert!(
        audio
            .iter()
            .any(|p| p.header.payload_type == 126 && p.payload[0] == 1),
        "DTMF did not reach the browser"
    );
    assert!(
        audio.iter().all(|p| p.payload[0] != 0xee),
        "a stranger's packet got through"
    );

    // After the latch, packets go to the latched port; an RTCP sender report comes within 5 s.
    net.caller_send(c, 8, 121, 3360, Bytes::from(vec![9u8; 160]));
    net.run_until(Duration::from_secs(6), |_| false);
    let rx = &net.phones[&latched];
    assert!(
        rx.iter()
            .any(|(_, d)| parse_rtp(d).is_some_and(|v| v.payload == [9u8; 160])),
        "RTP did not follow the latch"
    );
    assert!(
        rx.iter().any(|(_, d)| is_rtcp(d) && d[1] == 200),
        "no RTCP sender report to the phone"
    );
    let _ = phone;
}

#[test]
fn no_common_codec_is_refused() {
    let mut net = Net::new(SrtpPolicy::Default);
    let (c, offer) = net.add_caller();
    let (id, _) = net.bridge_offer(&offer, LEG.parse().unwrap()).unwrap();
    assert_eq!(
        net.bridge_answer(id, c, &answer(17000, "18")),
        Err(MediaError::NoCommonCodec)
    );
    // An offer the bridge cannot read at all.
    assert!(matches!(
        net.bridge_offer("garbage", LEG.parse().unwrap()),
        Err(MediaError::BadSdp(_))
    ));
}

#[test]
fn incoming_call_offers_the_callers_codecs_and_bridges_both_ways() {
    let mut net = Net::new(SrtpPolicy::Default);
    let leg: SocketAddr = LEG.parse().unwrap();
    let phone: SocketAddr = "10.99.201.1:16000".parse().unwrap();
    net.add_phone(phone);
    let sip_offer =
        "v=0\r\no=phone 1 1 IN IP4 10.99.201.1\r\ns=-\r\nc=IN IP4 10.99.201.1\r\nt=0 0\r\n\
m=audio 16000 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    let (id, webrtc_offer) = net.incoming_offer(sip_offer, leg).unwrap();
    assert!(
        webrtc_offer.contains("a=rtpmap:8 PCMA/8000"),
        "{webrtc_offer}"
    );
    assert!(!webrtc_offer.contains("G729"));
    let (c, answer) = net.add_callee(&webrtc_offer);
    let sip_answer = net.incoming_answer(id, &answer).unwrap();
    assert!(
        sip_answer.contains("m=audio 30000 RTP/AVP 8 101\r\n"),
        "{sip_answer}"
    );
    assert!(net.run_until(Duration::from_secs(10), |net| net.all_connected(1)));
    // Caller -> browser.
    for i in 0..10u16 {
        let mut b = Vec::new();
        write_rtp(
            &mut b,
            false,
            8,
            700 + i,
            160 * u32::from(i),
            0xcafe,
            &[i as u8 + 1; 160],
        );
        net.phone_send(phone, leg, b);
        net.run_until(Duration::from_millis(20), |_| false);
    }
    let got: Vec<_> = net.clients[c]
        .audio
        .iter()
        .filter(|p| p.header.payload_type == 8)
        .collect();
    assert_eq!(got.len(), 10);
    assert_eq!(&got[3].payload[..], &[4u8; 160][..]);
    // Browser -> caller.
    for i in 0..10u16 {
        net.caller_send(
            c,
            8,
            40 + i,
            160 * u32::from(i),
            Bytes::from(vec![0x70 + i as u8; 160]),
        );
        net.run_until(Duration::from_millis(20), |_| false);
    }
    let rtp: Vec<_> = net.phones[&phone]
        .iter()
        .filter_map(|(_, d)| parse_rtp(d).map(|v| (v.payload_type, v.payload.to_vec())))
        .collect();
    assert_eq!(rtp.len(), 10, "caller got {} packets", rtp.len());
    assert!(rtp.iter().all(|(pt, _)| *pt == 8));
    assert_eq!(rtp[9].1, vec![0x79u8; 160]);
    // A caller offering nothing bridgeable is refused.
    let g729 = sip_offer.replace("RTP/AVP 18 8 0 101", "RTP/AVP 18");
    assert_eq!(
        net.incoming_offer(&g729, "10.99.200.1:30002".parse().unwrap())
            .unwrap_err(),
        MediaError::NoCommonCodec
    );
}

#[test]
fn hold_and_unhold_both_ways() {
    let mut net = Net::new(SrtpPolicy::Default);
    let (id, c) = call(&mut net);
    let sent_to_phone = |net: &Net| phone_rtp(net).len();
    net.caller_send(c, 8, 1, 0, Bytes::from(vec![1u8; 160]));
    net.run_until(Duration::from_millis(40), |_| false);
    assert_eq!(sent_to_phone(&net), 1);

    // The phone holds (re-INVITE sendonly): answered recvonly, nothing more is sent to it.
    let hold = answer(17000, "8 101").replace("a=sendrecv", "a=sendonly");
    let now = net.now;
    let media::SipUpdate::Answer(reply) = net.core().sip_reoffer(now, id, &hold, &[]).unwrap()
    else {
        panic!("hold is answered by the gateway");
    };
    assert!(reply.contains("a=recvonly"), "{reply}");
    net.caller_send(c, 8, 2, 160, Bytes::from(vec![2u8; 160]));
    net.run_until(Duration::from_millis(40), |_| false);
    assert_eq!(sent_to_phone(&net), 1, "media went to a held phone");
    // ... and unholds.
    let media::SipUpdate::Answer(reply) = net
        .core()
        .sip_reoffer(now, id, &answer(17000, "8 101"), &[])
        .unwrap()
    else {
        panic!("unhold is answered by the gateway");
    };
    assert!(reply.contains("a=sendrecv"));
    net.caller_send(c, 8, 3, 320, Bytes::from(vec![3u8; 160]));
    net.run_until(Duration::from_millis(40), |_| false);
    assert_eq!(sent_to_phone(&net), 2);
    // The sequence continues across the hold (one stream toward the phone).
    let got = phone_rtp(&net);
    let (a, b) = (parse_rtp(&got[0].1).unwrap(), parse_rtp(&got[1].1).unwrap());
    assert_eq!(b.ssrc, a.ssrc);

    // The browser holds: its new offer is answered and the re-INVITE toward SIP is sendonly.
    let offer = {
        let now = net.now;
        let pc = &mut net.clients[c].pc;
        let tids: Vec<_> = pc.get_transceivers().collect();
        for t in tids {
            if let Some(mut t) = pc.rtp_transceiver(t) {
                t.set_direction(rtc::rtp_transceiver::RTCRtpTransceiverDirection::Sendonly);
            }
        }
        let o = pc.create_offer(None).unwrap();
        pc.set_local_description(now, o).unwrap();
        pc.local_description().unwrap().sdp
    };
    assert!(offer.contains("a=sendonly"), "{offer}");
    let reinvite = net.browser_reoffer(id, c, &offer).unwrap();
    assert!(reinvite.contains("a=sendonly"), "{reinvite}");
    assert!(
        reinvite.contains("m=audio 30000 RTP/AVP 8 101"),
        "{reinvite}"
    );
    // The phone's answer (recvonly) is applied.
    let phone_answer = answer(17000, "8 101").replace("a=sendrecv", "a=recvonly");
    let now = net.now;
    assert_eq!(
        net.core().sip_reanswer(now, id, &phone_answer).unwrap(),
        None
    );
}
