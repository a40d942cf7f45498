//! The signaling JSON path: parsing and validating requests, serialising events.
//! Run with `cargo bench --bench sylkrtc_parse`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use signaling::sylkrtc::{self, AccountEvent, Event, Identity, Parsed};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sylkrtc");
    let trickle = r#"{"sylkrtc":"videoroom-session-trickle","transaction":"9dcad2df-2b4e-4a1c-9d0e-1b2c3d4e5f60","session":"a1b2c3d4-0000-4000-8000-000000000001","candidates":[{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.10 54321 typ srflx raddr 10.0.0.2 rport 54321 generation 0 ufrag abcd network-cost 999","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}]}"#;
    let add = r#"{"sylkrtc":"account-add","account":"sip:alice@example.com","password":"b1726872c344b6dc8365b774f8fd6412","display_name":"Alice","user_agent":"SylkRTC (Chrome 156.0.0.0 on Linux)","transaction":"9dcad2df-2b4e-4a1c-9d0e-1b2c3d4e5f60"}"#;
    let bad = r#"{"sylkrtc":"account-add","account":"not a uri","password":"x","transaction":"t"}"#;
    for (name, text) in [
        ("parse trickle", trickle),
        ("parse account-add", add),
        ("parse invalid", bad),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let p = sylkrtc::parse(black_box(text));
                assert!(!matches!(p, Parsed::Ignored(_)));
                p
            })
        });
    }
    let ev = Event::account(
        "alice@example.com",
        AccountEvent::Message {
            sender: Identity::new("sip:bob@example.com", Some("Bob")),
            timestamp: "2026-07-17T10:41:52+02:00".into(),
            disposition_notification: Some(vec!["positive-delivery".into(), "display".into()]),
            message_id: "6f1c0000-0000-4000-8000-000000000000".into(),
            content_type: "text/plain".into(),
            content: "hello, café ☕".repeat(8),
            direction: None,
        },
    );
    g.bench_function("serialise account message event", |b| {
        b.iter(|| black_box(&ev).to_json())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
