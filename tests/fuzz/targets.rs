//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries (`tests/fuzz/fuzz_targets`,
//! run with a nightly toolchain outside CI) and by `tests/fuzz_replay.rs`, which replays every
//! corpus file as an ordinary test in `tests/run.sh`. Each takes any bytes and must return
//! without panicking (and, fuzzed with debug assertions, without arithmetic overflow).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

/// A target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// The targets by name (the corpus folder of each).
pub const TARGETS: &[(&str, Target)] = &[
    ("sylkrtc_request", sylkrtc_request),
    ("sip_message", sip_message),
    ("sdp_plain", sdp_plain),
    ("sdp_browser", sdp_browser),
    ("media_demux", media_demux),
    ("sfu_datagram", sfu_datagram),
    ("http_request", http_request),
];

/// A sylkRTC-2 frame as the WebSocket task parses it, and the authorization rule of what it
/// became.
pub fn sylkrtc_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let signaling::sylkrtc::Parsed::Request(request) = signaling::sylkrtc::parse(text) {
        let _ = sylk_gateway::access::requirement(&request);
        let _ = request.kind();
    }
}

/// A SIP message as rsipstack parses it, then our pure cores on it: the incoming-request
/// helpers (From, CPIM, IMDN, contact tokens, URIs, digest challenges), and as a response, the
/// REGISTER and INVITE cores.
pub fn sip_message(data: &[u8]) {
    use signaling::sip::{self, addr, cpim, digest, invite, register};
    let Ok(message) = rsipstack::sip::SipMessage::try_from(data) else {
        // Our own parsers also see raw text (bodies, header values).
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = cpim::parse(text);
            let _ = cpim::parse_imdn(text);
            let _ = digest::Challenge::parse(text);
            let _ = sip::incoming::parse_from(text);
            let _ = addr::uri_hop(text);
            let _ = addr::uri_host(text);
            let _ = sip::Aor::parse(text);
        }
        return;
    };
    match message {
        rsipstack::sip::SipMessage::Request(request) => {
            let uri = request.uri.to_string();
            let _ = register::contact_token(&uri);
            let _ = addr::uri_hop(&uri);
            for header in request.headers.iter() {
                let value = header.value().to_string();
                let _ = invite::entry_uri(&value);
                let _ = invite::header_param(&value, "tag");
                let _ = sip::incoming::parse_from(&value);
                let _ = cpim::media_type(&value);
            }
            if let Ok(body) = std::str::from_utf8(&request.body) {
                if let Some(c) = cpim::parse(body) {
                    let _ = cpim::parse_imdn(&c.content);
                }
            }
        }
        rsipstack::sip::SipMessage::Response(response) => {
            let info = sip::ua::response_info(&response);
            for v in info.www_authenticate.iter().chain(&info.proxy_authenticate) {
                if let Ok(c) = digest::Challenge::parse(v) {
                    let _ = digest::authorization(
                        &c,
                        "alice",
                        "2edb2c1af97b498960b7f50592ec157a",
                        digest::RequestLine {
                            method: "REGISTER",
                            uri: "sip:example.com",
                            body: b"",
                        },
                        "cnonce",
                    );
                }
            }
            let mut reg = register::RegisterCore::new(register_params(), 1);
            let _ = reg.register();
            let _ = reg.handle_response(&info);
            let _ = reg.handle_response(&info);
            let mut call = invite::InviteCore::new(invite_params(), 2);
            let _ = call.invite();
            let _ = call.handle_final(&info);
            let _ = call.handle_final(&info);
            let _ = invite::to_tag(&info);
            let _ = invite::sdp_body(&info);
            let _ = register::granted_expires(&info, "token", 600);
            let _ = call.bye(sip::Transport::Udp);
            let _ = call.reinvite_challenge(&info, sip::Transport::Udp, "v=0");
        }
    }
}

fn register_params() -> signaling::sip::register::RegisterParams {
    signaling::sip::register::RegisterParams {
        aor: signaling::sip::Aor::parse("alice@example.com").unwrap(),
        display_name: Some("Alice".into()),
        user_agent: "fuzz".into(),
        ha1: signaling::sip::Ha1("2edb2c1af97b498960b7f50592ec157a".into()),
        local_ip: [127, 0, 0, 1].into(),
        local_port: 5060,
        transport: signaling::sip::Transport::Udp,
        contact_params: Vec::new(),
        expires: 600,
    }
}

fn invite_params() -> signaling::sip::invite::InviteParams {
    signaling::sip::invite::InviteParams {
        from: signaling::sip::Aor::parse("alice@example.com").unwrap(),
        display_name: None,
        to: signaling::sip::Aor::parse("bob@example.com").unwrap(),
        user_agent: "fuzz".into(),
        ha1: signaling::sip::Ha1("2edb2c1af97b498960b7f50592ec157a".into()),
        local_ip: [127, 0, 0, 1].into(),
        local_port: 5060,
        transport: signaling::sip::Transport::Udp,
        sdp: "v=0\r\n".into(),
        headers: Vec::new(),
    }
}

/// The SDP of the SIP side: parse, the offer/answer functions of calls in both directions.
pub fn sdp_plain(data: &[u8]) {
    use media::bridge::sdp::*;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse(text);
    let _ = main_direction(text);
    for mode in [
        media::SdesMode::Disabled,
        media::SdesMode::Optional,
        media::SdesMode::Mandatory,
    ] {
        if let Ok(codecs) = incoming_codecs(text, mode) {
            let _ = codecs.len();
        }
    }
    let locals: Vec<(media::Kind, SocketAddr, SocketAddr)> =
        [media::Kind::Audio, media::Kind::Video]
            .iter()
            .map(|k| {
                let a: SocketAddr = "127.0.0.1:30000".parse().unwrap();
                (*k, a, a)
            })
            .collect();
    let mut rng = rand::rng();
    if let Ok((rendered, offered)) =
        plain_offer(text, &locals, 1, media::SdesMode::Optional, &mut rng)
    {
        let _ = render(&offered, 1, Direction::SendRecv);
        if let Ok(chosen) = negotiate(&offered, text) {
            let _ = reoffer_to_sip(&chosen, Direction::SendOnly, 2);
            let _ = reoffer_from_sip(&chosen, text, 3);
        }
        let _ = negotiate(&offered, &rendered);
    }
    // The text as the SIP offer and, split at a form feed, the browser's answer too.
    let (offer, answer) = text.split_once('\x0c').unwrap_or((text, text));
    let _ = answer_incoming(
        offer,
        answer,
        &locals,
        3,
        media::SdesMode::Optional,
        &mut rng,
    );
    // Crypto attributes alone, as a phone's SDP carries them.
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("a=crypto:") {
            let _ = media::bridge::sdes::Crypto::parse(value);
        }
    }
}

/// The browser's SDP as the SFU takes it: a publish offer answered by an rtc peer.
pub fn sdp_browser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let candidates =
        media::transport::peer::Candidates::udp(vec!["127.0.0.1:10888".parse().unwrap()]);
    let _ = media::transport::peer::Peer::publisher(
        text,
        &candidates,
        media::SrtpPolicy::Default,
        Instant::now(),
        &mut rand::rng(),
    );
}

/// The demultiplexing of the media port and the small media parsers.
pub fn media_demux(data: &[u8]) {
    use rtc::shared::marshal::Unmarshal;
    let _ = media::core::stun::classify(data);
    let _ = media::core::stun::local_ufrag(data);
    let _ = media::core::stun::is_binding_request(data);
    static CRYPTO: OnceLock<std::sync::Arc<dyn rtc::crypto::RTCCryptoProvider>> = OnceLock::new();
    let crypto = CRYPTO.get_or_init(|| rtc::crypto::default_provider().unwrap());
    let _ = media::core::stun::authentic_binding_request(data, "password", crypto.crypto());
    let _ = media::rtp::parse_rtp(data);
    let _ = media::rtp::is_rtcp(data);
    let mut buf = data;
    if let Ok(p) = rtc::rtp::Packet::unmarshal(&mut buf) {
        let _ = media::router::vp8::starts_keyframe(&p.payload);
    }
    let mut buf = data;
    let _ = rtc::rtcp::packet::unmarshal(&mut buf);
    let _ = media::router::vp8::starts_keyframe(data);
}

thread_local! {
    /// A room of the SFU core with a publisher and a subscriber connected (made once: a DTLS
    /// handshake per input would be all the fuzzer measured).
    static ROOM: std::cell::RefCell<Option<media::testkit::Net>> = const { std::cell::RefCell::new(None) };
}

/// One datagram on the SFU's socket, from the publisher's address (the first byte even),
/// the subscriber's (odd) or an address never seen (0xff), with the peers connected.
pub fn sfu_datagram(data: &[u8]) {
    let Some((&selector, datagram)) = data.split_first() else {
        return;
    };
    ROOM.with(|room| {
        let mut room = room.borrow_mut();
        let net = room.get_or_insert_with(|| {
            let mut net = media::testkit::Net::new(media::SrtpPolicy::Default);
            let (publisher, _) = net.add_publisher();
            net.add_subscriber(publisher);
            net.run_until(std::time::Duration::from_secs(10), |n| n.all_connected(2));
            net
        });
        let from = match selector {
            0xff => "10.99.250.1:4000".parse().unwrap(),
            s if s % 2 == 0 => net.clients[0].addr,
            _ => net.clients[1].addr,
        };
        net.inject(from, datagram, &mut |_, _, _: &[u8]| true);
        if selector == 0xfe {
            net.now += std::time::Duration::from_millis(500);
            let now = net.now;
            net.core().handle_timeout(now);
        }
    });
}

/// The HTTP side (file sharing, 1:1 transfers and their downloads, the history API, the web
/// app): one request through the real router of an in-process gateway that has a room with a
/// session and an authenticated account, as parsed from `METHOD PATH\nName: value...\n\nbody`.
pub fn http_request(data: &[u8]) {
    let Some(request) = http_from_bytes(data) else {
        return;
    };
    let (runtime, router) = http_app();
    runtime.block_on(async {
        use tower::ServiceExt;
        let _ = router.clone().oneshot(request).await;
    });
}

fn http_from_bytes(data: &[u8]) -> Option<http::Request<axum::body::Body>> {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let mut first = lines.next()?.splitn(2, ' ');
    let method = first.next()?;
    let path = first.next().unwrap_or("/");
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(method.as_bytes()).ok()?)
        .uri(path);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let mut request = builder
        .body(axum::body::Body::from(body.to_string()))
        .ok()?;
    let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    Some(request)
}

/// The room, session and account the seeds name.
pub const HTTP_ROOM: &str = "fuzzroom@videoconference.example.com";
pub const HTTP_SESSION: &str = "fuzz-session";
pub const HTTP_ACCOUNT: &str = "alice@example.com";

/// The runtime and the router (made once: building the routes per input was most of its cost).
fn http_app() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static APP: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    APP.get_or_init(|| {
        // One thread: the gateway's own tasks run while a request is served.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("sylk-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let app = runtime.block_on(async {
            let config = sylk_gateway::config::Config {
                data_dir: dir.clone(),
                no_tls: true,
                // Millions of uploads: the quota keeps what they store small.
                limits: sylk_gateway::config::Limits {
                    upload_quota: 64 << 20,
                    ..Default::default()
                },
                ..Default::default()
            };
            let engine = media::engine::start(media::EngineConfig {
                bind: "127.0.0.1:0".parse().unwrap(),
                advertise: vec![[127, 0, 0, 1].into()],
                consent_timeout: std::time::Duration::from_secs(30),
                srtp: media::SrtpPolicy::Default,
                rtp_ports: (40000, 40100),
                rtx: Default::default(),
                shards: 1,
                send_batch: 64,
                tcp_port: None,
                panic_payload: None,
                opus: Default::default(),
            })
            .await
            .unwrap();
            let sip = signaling::sip::SipUa::start(signaling::sip::UaConfig {
                tls_ca: None,
                listen: "127.0.0.1:0".parse().unwrap(),
                proxy: None,
                register_expires: 600,
                user_agent: "fuzz".into(),
                call_setup_timeout: std::time::Duration::from_secs(60),
                trusted_peers: Vec::new(),
                auth_realms: Vec::new(),
                source_limits: Default::default(),
            })
            .await
            .unwrap();
            let store = std::sync::Arc::new(
                sylk_gateway::storage::Store::open(&dir.join("s.sqlite")).unwrap(),
            );
            store
                .add_account(HTTP_ACCOUNT, "2026-01-01T00:00:00.000000Z")
                .unwrap();
            sylk_gateway::server::App::new(config, engine, sip, store, "http://127.0.0.1:1".into())
        });
        let (tx, rx) = tokio::sync::mpsc::channel(1 << 20);
        // Nobody reads this connection's events; its outbox is large enough for a run.
        std::mem::forget(rx);
        let (orders, orders_rx) = tokio::sync::mpsc::channel(1);
        std::mem::forget(orders_rx);
        let handle =
            sylk_gateway::connection::ConnHandle::new(1, [127, 0, 0, 1].into(), tx, orders);
        app.access.open(handle.clone());
        app.access.add(1, HTTP_ACCOUNT).unwrap();
        app.access.authenticate(1, HTTP_ACCOUNT);
        let participant = sylk_gateway::rooms::Participant {
            session: HTTP_SESSION.into(),
            member: sylk_gateway::rooms::Member::Browser(handle),
            account: HTTP_ACCOUNT.into(),
            display_name: None,
            peer: media::PeerId(1),
            attached: Default::default(),
            muted: false,
            spoke: None,
        };
        let mut rooms = app.rooms();
        rooms
            .reserve(HTTP_SESSION, HTTP_ROOM, 10, media::ShardId::default)
            .unwrap();
        rooms.join(HTTP_ROOM, true, true, participant);
        drop(rooms);
        (runtime, sylk_gateway::server::router(app))
    })
}
