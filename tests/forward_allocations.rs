//! No heap allocation per forwarded packet: the SFU core forwards one publisher's video to 1
//! and to 12 subscribers (real webrtc-rs peers and DTLS-SRTP on media::testkit's in-memory
//! network), and this thread's heap allocations are counted while the SRTP datagrams go in
//! and the forwarded ones come out. Whatever is allocated per incoming packet (rtc's receive
//! path: decrypt, unmarshal, interceptors) is the same for 1 and for 12 subscribers; each
//! forwarded copy must add nothing, with both SRTP profiles.

use std::time::Duration;

use media::testkit::{allocations, forward_counted, forwarding_room as room, CountingAlloc, Net};
use media::SrtpPolicy;

const PAYLOAD: usize = 1200;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn forwarded_copies_allocate_nothing() {
    const PACKETS: u64 = 200;
    for srtp in [SrtpPolicy::AesGcm, SrtpPolicy::AesCm] {
        let mut per_incoming = Vec::new();
        for n in [1u64, 12] {
            let (mut net, p) = room(srtp, n as usize, PAYLOAD);
            // Warm up: history slots, buffers and maps reach their size.
            let (_, sent) = forward_counted(&mut net, p, 1, 600, PAYLOAD);
            assert_eq!(
                sent,
                600 * n,
                "{srtp:?} N={n}: not every copy was forwarded"
            );
            let (allocs, sent) = forward_counted(&mut net, p, 601, PACKETS, PAYLOAD);
            assert_eq!(sent, PACKETS * n, "{srtp:?} N={n}");
            per_incoming.push(allocs);
            println!(
                "{srtp:?} N={n}: {allocs} allocations for {PACKETS} packets in, {sent} out ({:.2} per forwarded packet)",
                allocs as f64 / sent as f64
            );
        }
        let extra_copies = PACKETS * 11;
        let extra_allocations = per_incoming[1].saturating_sub(per_incoming[0]);
        // Exactly equal in practice; two spare for anything incidental (never one per copy).
        assert!(
            extra_allocations <= 2,
            "{srtp:?}: {extra_allocations} more allocations for {extra_copies} more forwarded copies \
             ({} with 1 subscriber, {} with 12)",
            per_incoming[0],
            per_incoming[1]
        );
    }
}

/// A 1:1 call's plain RTP from the phone goes to the browser as SRTP with no allocation.
#[test]
fn plain_rtp_bridged_to_the_browser_allocates_nothing() {
    use media::rtp::write_rtp;
    use std::net::SocketAddr;
    let leg: SocketAddr = "10.99.200.1:30000".parse().unwrap();
    let phone: SocketAddr = "10.99.201.1:17000".parse().unwrap();
    let mut net = Net::new(SrtpPolicy::Default);
    let (c, offer) = net.add_caller();
    let (id, _) = net.bridge_offer(&offer, leg).expect("offer");
    net.add_phone(phone);
    let answer =
        "v=0\r\no=phone 1 1 IN IP4 10.99.201.1\r\ns=-\r\nc=IN IP4 10.99.201.1\r\nt=0 0\r\n\
                  m=audio 17000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n";
    net.bridge_answer(id, c, answer).expect("answer");
    assert!(net.run_until(Duration::from_secs(10), |net| net.all_connected(1)));
    let mut buf = Vec::with_capacity(1500);
    let (mut allocs, mut sent) = (0u64, 0u64);
    for i in 0..400u16 {
        write_rtp(
            &mut buf,
            false,
            8,
            i,
            160 * u32::from(i),
            0x1111,
            &[0xd5; 160],
        );
        let before = allocations();
        let mut out = 0u64;
        net.inject_plain(leg, phone, &buf, &mut |_, _, data: &[u8]| {
            out += u64::from(data.len() > 160);
            true
        });
        // The first 200 warm up; the next 200 are counted.
        if i >= 200 {
            allocs += allocations() - before;
            sent += out;
        }
    }
    assert_eq!(sent, 200, "not every packet reached the browser");
    assert_eq!(allocs, 0, "allocations for 200 bridged packets");
}
