//! An in-memory network for a [`Core`]: browser stand-ins (webrtc-rs `rtc` peers, full ICE,
//! DTLS client), a simulated clock, and a datagram queue with an optional loss filter. Used by
//! the fan-out bench and by tests that need control over the network (loss, timing).
//! Compiled only with the `testkit` feature.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use crate::core::{Core, CoreConfig, MediaEvent, PeerEvent};
use crate::ids::{Kind, PeerId};
use crate::outbox::Outbox;
use crate::transport::codecs::{OPUS_PT, VP8_PT};
use crate::transport::peer::SrtpPolicy;

mod fanout;
pub use fanout::{allocations, forward_counted, forwarding_room, CountingAlloc};

type Datagram = (SocketAddr, SocketAddr, Vec<u8>);

/// Decides whether a datagram `(from, to, data)` is delivered (false: lost).
pub type LossFilter = Box<dyn FnMut(SocketAddr, SocketAddr, &[u8]) -> bool>;

/// A browser stand-in.
pub struct Client {
    pub pc: RTCPeerConnection,
    pub addr: SocketAddr,
    pub connected: bool,
    /// RTP received, per kind, in arrival order.
    pub audio: Vec<rtc::rtp::Packet>,
    pub video: Vec<rtc::rtp::Packet>,
    pub sender_reports: usize,
    /// Every sender report received: (SSRC, packet count, octet count, RTP time).
    pub sender_report_log: Vec<(u32, u32, u32, u32)>,
    pub receiver_reports: usize,
    /// Publisher clients: (audio, video) senders and their SSRCs.
    pub senders: Option<[(RTCRtpSenderId, u32); 2]>,
    /// Simulcast publisher clients: the SSRC of each video layer, and their seq/ts.
    pub layers: Vec<(u32, u16, u32)>,
    /// The rid of each layer.
    pub rids: Vec<String>,
    seq: [u16; 2],
    ts: [u32; 2],
    track_kinds: Vec<(String, Kind)>,
    /// The SFU address (shard) it last heard from: where its media goes.
    pub server: Option<SocketAddr>,
    /// Subscriber clients: the video receiver (to send keyframe requests on).
    video_receiver: Option<rtc::rtp_transceiver::RTCRtpReceiverId>,
}

fn codecs() -> [(RtpCodecKind, RTCRtpCodecParameters); 2] {
    [
        (RtpCodecKind::Audio, crate::transport::codecs::opus()),
        (
            RtpCodecKind::Video,
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_VP8.to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![],
                },
                payload_type: VP8_PT,
            },
        ),
    ]
}

/// A browser's audio codecs for calls: Opus 111, PCMA 8, telephone-event 126.
fn caller_media() -> MediaEngine {
    let mut media = MediaEngine::default();
    let audio = [
        (
            MIME_TYPE_OPUS,
            48000,
            2,
            "minptime=10;useinbandfec=1",
            OPUS_PT,
        ),
        ("audio/PCMA", 8000, 0, "", 8),
        ("audio/telephone-event", 8000, 0, "0-16", 126),
    ];
    for (mime, clock, channels, fmtp, pt) in audio {
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: RTCRtpCodec {
                        mime_type: mime.to_owned(),
                        clock_rate: clock,
                        channels,
                        sdp_fmtp_line: fmtp.to_owned(),
                        rtcp_feedback: vec![],
                    },
                    payload_type: pt,
                },
                RtpCodecKind::Audio,
            )
            .expect("codec");
    }
    media
}

fn client_pc(addr: SocketAddr, now: Instant) -> RTCPeerConnection {
    let mut media = MediaEngine::default();
    for (kind, codec) in codecs() {
        media.register_codec(codec, kind).expect("codec");
    }
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: "video/rtx".to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: format!("apt={VP8_PT}"),
                    rtcp_feedback: vec![],
                },
                payload_type: crate::transport::codecs::RTX_PT,
            },
            RtpCodecKind::Video,
        )
        .expect("rtx");
    client_pc_with(addr, media, now)
}

fn client_pc_with(addr: SocketAddr, mut media: MediaEngine, now: Instant) -> RTCPeerConnection {
    // Deliver RTCP to the application, so tests can see sender reports.
    let registry = Registry::new().with(
        rtc::interceptor::Slot::from(14_000),
        crate::transport::peer::DeliverRtcp::default(),
    );
    let registry = register_default_interceptors(registry, &mut media).expect("interceptors");
    let settings = SettingEngineBuilder::new()
        .with_answering_dtls_role(RTCDtlsRole::Client)
        .build();
    let config = RTCConfigurationBuilder::new()
        .with_ice_servers(vec![])
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(config)
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .build(now)
        .expect("client peer connection");
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .expect("candidate");
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().expect("json"))
        .expect("local candidate");
    pc
}

impl Client {
    fn new(pc: RTCPeerConnection, addr: SocketAddr) -> Client {
        Client {
            server: None,
            pc,
            addr,
            connected: false,
            audio: Vec::new(),
            video: Vec::new(),
            sender_reports: 0,
            sender_report_log: Vec::new(),
            receiver_reports: 0,
            senders: None,
            layers: Vec::new(),
            rids: Vec::new(),
            seq: [1000, 5000],
            ts: [0, 0],
            track_kinds: Vec::new(),
            video_receiver: None,
        }
    }

    /// A subscriber client asks for a keyframe of the video it receives (a PLI, as a
    /// browser's decoder does).
    pub fn request_keyframe(&mut self, now: Instant) {
        let (Some(receiver), Some(media_ssrc)) = (
            self.video_receiver,
            self.video.last().map(|p| p.header.ssrc),
        ) else {
            return;
        };
        let pli = rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        if let Some(mut r) = self.pc.rtp_receiver(receiver) {
            let _ = r.write_rtcp(now, vec![Box::new(pli)]);
        }
    }

    /// Makes the SRTP datagram(s) of one video packet of simulcast layer `layer`.
    pub fn make_layer_rtp(
        &mut self,
        now: Instant,
        layer: usize,
        payload: Bytes,
        out: &mut Vec<Vec<u8>>,
    ) {
        let Some(senders) = self.senders else {
            return;
        };
        let (ssrc, seq, ts) = &mut self.layers[layer];
        *seq = seq.wrapping_add(1);
        *ts = ts.wrapping_add(3000);
        let mut header = rtc::rtp::header::Header {
            version: 2,
            marker: true,
            payload_type: VP8_PT,
            sequence_number: *seq,
            timestamp: *ts,
            ssrc: *ssrc,
            ..Default::default()
        };
        // As browsers do: MID and RID header extensions (ids as this client's offer has them),
        // which is how the receiver tells the layers apart.
        header.extension = true;
        header.extension_profile = 0xBEDE;
        let rid = Bytes::from(self.rids[layer].clone());
        let _ = header.set_extension(1, Bytes::from_static(b"1"));
        let _ = header.set_extension(2, rid);
        let packet = rtc::rtp::Packet { header, payload };
        if let Some(mut s) = self.pc.rtp_sender(senders[1].0) {
            s.write_rtp(now, packet).expect("write_rtp");
        }
        while let Some(msg) = self.pc.poll_write() {
            out.push(msg.message.to_vec());
        }
    }

    /// Makes the SRTP datagram(s) of one RTP packet this publisher client sends.
    pub fn make_rtp(&mut self, now: Instant, kind: Kind, payload: Bytes, out: &mut Vec<Vec<u8>>) {
        let Some(senders) = self.senders else {
            return;
        };
        let i = usize::from(kind == Kind::Video);
        let (sender, ssrc) = senders[i];
        self.seq[i] = self.seq[i].wrapping_add(1);
        self.ts[i] = self.ts[i].wrapping_add(if i == 1 { 3000 } else { 960 });
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker: true,
                payload_type: if i == 1 { VP8_PT } else { OPUS_PT },
                sequence_number: self.seq[i],
                timestamp: self.ts[i],
                ssrc,
                ..Default::default()
            },
            payload,
        };
        if let Some(mut s) = self.pc.rtp_sender(sender) {
            s.write_rtp(now, packet).expect("write_rtp");
        }
        while let Some(msg) = self.pc.poll_write() {
            out.push(msg.message.to_vec());
        }
    }
}

/// The SFU plus browser stand-ins on a simulated network.
pub struct Net {
    /// One core per simulated shard, each at its own address (`sfu_addr` + index).
    pub cores: Vec<Core>,
    addrs: Vec<SocketAddr>,
    /// The shard where the next publisher or call is placed.
    pub placement: usize,
    /// The shard of each plain leg.
    leg_shard: std::collections::HashMap<SocketAddr, usize>,
    pub sfu_addr: SocketAddr,
    pub clients: Vec<Client>,
    pub now: Instant,
    /// The SDES-SRTP mode of the calls made from now on (default: plain RTP).
    pub sdes: crate::SdesMode,
    queue: VecDeque<Datagram>,
    /// Return false to drop a datagram `(from, to, data)` (simulated loss).
    pub filter: Option<LossFilter>,
    /// What the core told the application.
    pub events: Events,
    /// The core's datagrams of the last input (reused).
    out: Outbox,
    connected_sfu_peers: usize,
    next_id: u64,
    /// Local addresses of the SFU's plain RTP legs.
    pub plain_locals: Vec<SocketAddr>,
    /// Plain RTP endpoints ("phones"): what each received, with the sender's address.
    pub phones: std::collections::HashMap<SocketAddr, Vec<(SocketAddr, Vec<u8>)>>,
}

impl Net {
    pub fn new(srtp: SrtpPolicy) -> Net {
        Net::with_shards(srtp, 1)
    }

    /// A network with `shards` cores (shard `k` at port 10888 + `k`), as the engine runs them.
    pub fn with_shards(srtp: SrtpPolicy, shards: usize) -> Net {
        let sfu_addr: SocketAddr = "10.99.0.1:10888".parse().expect("addr");
        let addrs: Vec<SocketAddr> = (0..shards.max(1))
            .map(|k| SocketAddr::new(sfu_addr.ip(), sfu_addr.port() + k as u16))
            .collect();
        Net {
            cores: addrs
                .iter()
                .map(|a| Core::new(CoreConfig::new(*a, srtp)))
                .collect(),
            addrs,
            placement: 0,
            leg_shard: Default::default(),
            sfu_addr,
            clients: Vec::new(),
            now: Instant::now(),
            sdes: crate::SdesMode::Disabled,
            queue: VecDeque::new(),
            filter: None,
            events: Events::default(),
            out: Outbox::default(),
            connected_sfu_peers: 0,
            next_id: 1,
            plain_locals: Vec::new(),
            phones: Default::default(),
        }
    }

    fn client_addr(&self) -> SocketAddr {
        let n = self.clients.len() as u32 + 2;
        SocketAddr::from(([10, 99, (n >> 8) as u8, n as u8], 40000))
    }

    /// Shard 0's core.
    pub fn core(&mut self) -> &mut Core {
        &mut self.cores[0]
    }

    /// The core a peer is on.
    pub fn core_of(&mut self, id: PeerId) -> &mut Core {
        let k = usize::from(id.shard().0).min(self.cores.len() - 1);
        &mut self.cores[k]
    }

    fn peer_id(&mut self) -> PeerId {
        self.peer_id_on(self.placement)
    }

    fn peer_id_on(&mut self, shard: usize) -> PeerId {
        self.next_id += 1;
        PeerId::new(crate::ids::ShardId(shard as u8), self.next_id)
    }

    /// A publisher client sending Opus and VP8; returns its peer id and client index.
    pub fn add_publisher(&mut self) -> (PeerId, usize) {
        self.add_simulcast_publisher(&[])
    }

    /// A publisher client whose video has one simulcast layer per rid (none: no simulcast).
    pub fn add_simulcast_publisher(&mut self, rids: &[&str]) -> (PeerId, usize) {
        let addr = self.client_addr();
        let mut pc = client_pc(addr, self.now);
        let mut senders = Vec::new();
        let mut layers = Vec::new();
        for (kind, codec) in codecs() {
            let ssrc = rand::random::<u32>();
            let encoding = |rid: &str, ssrc: u32| RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    rid: rid.to_string(),
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: codec.rtp_codec.clone(),
                ..Default::default()
            };
            let encodings = if kind == RtpCodecKind::Video && !rids.is_empty() {
                rids.iter()
                    .map(|rid| {
                        let ssrc = rand::random::<u32>();
                        layers.push((ssrc, 100u16, 0u32));
                        encoding(rid, ssrc)
                    })
                    .collect()
            } else {
                vec![encoding("", ssrc)]
            };
            let track = MediaStreamTrack::new(
                format!("stream-{ssrc}"),
                format!("track-{ssrc}"),
                format!("label-{ssrc}"),
                kind,
                encodings,
            );
            senders.push((pc.add_track(track).expect("add_track"), ssrc));
        }
        let offer = pc.create_offer(None).expect("offer");
        pc.set_local_description(self.now, offer)
            .expect("local offer");
        let offer = pc.local_description().expect("offer").sdp;
        let id = self.peer_id();
        let now = self.now;
        let answer = self.core_of(id).publish(now, id, &offer).expect("publish");
        self.pump();
        pc.set_remote_description(
            self.now,
            RTCSessionDescription::answer(answer).expect("answer"),
        )
        .expect("remote answer");
        let mut client = Client::new(pc, addr);
        client.senders = Some([senders[0], senders[1]]);
        client.layers = layers;
        client.rids = rids.iter().map(|r| r.to_string()).collect();
        self.clients.push(client);
        (id, self.clients.len() - 1)
    }

    /// A subscriber client of `publisher`; returns its peer id and client index.
    pub fn add_subscriber(&mut self, publisher: PeerId) -> (PeerId, usize) {
        let addr = self.client_addr();
        let mut pc = client_pc(addr, self.now);
        let id = self.peer_id_on(usize::from(publisher.shard().0));
        let now = self.now;
        let offer = self
            .core_of(id)
            .subscribe(now, id, publisher, true, true)
            .expect("subscribe");
        self.pump();
        pc.set_remote_description(
            self.now,
            RTCSessionDescription::offer(offer).expect("offer"),
        )
        .expect("remote offer");
        let answer = pc.create_answer(None).expect("answer");
        pc.set_local_description(self.now, answer)
            .expect("local answer");
        let answer = pc.local_description().expect("answer").sdp;
        let now = self.now;
        self.core_of(id)
            .answer(now, id, &answer)
            .expect("answer applied");
        self.pump();
        self.clients.push(Client::new(pc, addr));
        (id, self.clients.len() - 1)
    }

    /// Delivers queued datagrams and runs due timers once; advances the clock by `tick` when
    /// nothing was in flight.
    pub fn step(&mut self, tick: Duration) {
        for i in 0..self.clients.len() {
            self.drain_client(i);
        }
        if self.queue.is_empty() {
            self.now += tick;
            let now = self.now;
            for c in &mut self.clients {
                if c.pc.poll_timeout().is_some_and(|t| t <= now) {
                    let _ = c.pc.handle_timeout(now);
                }
            }
            for core in &mut self.cores {
                if core.poll_timeout().is_some_and(|t| t <= now) {
                    core.handle_timeout(now);
                }
            }
            self.pump();
            return;
        }
        while let Some((from, to, data)) = self.queue.pop_front() {
            if let Some(f) = self.filter.as_mut() {
                if !f(from, to, &data) {
                    continue;
                }
            }
            let shard = self
                .addrs
                .iter()
                .position(|a| *a == to)
                .or_else(|| self.leg_shard.get(&to).copied());
            if let Some(k) = shard {
                self.cores[k].handle_datagram(self.now, to, from, &data);
                self.pump();
            } else if let Some(rx) = self.phones.get_mut(&to) {
                rx.push((from, data));
            } else if let Some(i) = self.clients.iter().position(|c| c.addr == to) {
                let c = &mut self.clients[i];
                if self.addrs.contains(&from) {
                    c.server = Some(from);
                }
                let _ = c.pc.handle_read(TaggedBytesMut {
                    now: self.now,
                    transport: TransportContext {
                        local_addr: to,
                        peer_addr: from,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: BytesMut::from(&data[..]),
                });
                self.drain_client(i);
            }
        }
    }

    fn drain_client(&mut self, i: usize) {
        let c = &mut self.clients[i];
        while let Some(out) = c.pc.poll_write() {
            self.queue
                .push_back((c.addr, out.transport.peer_addr, out.message.to_vec()));
        }
        while let Some(ev) = c.pc.poll_event() {
            match ev {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                    c.connected = s == RTCPeerConnectionState::Connected;
                }
                RTCPeerConnectionEvent::OnTrack(
                    rtc::peer_connection::event::RTCTrackEvent::OnOpen(init),
                ) => {
                    let kind =
                        c.pc.rtp_receiver(init.receiver_id)
                            .map(|r| Kind::from(r.track().kind()))
                            .unwrap_or(Kind::Audio);
                    if kind == Kind::Video {
                        c.video_receiver = Some(init.receiver_id);
                    }
                    c.track_kinds.push((init.track_id.to_string(), kind));
                }
                _ => {}
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = c.pc.poll_read() {
            match message {
                RTCMessage::RtpPacket(track, packet) => {
                    match c.track_kinds.iter().find(|(t, _)| *t == track.as_str()) {
                        Some((_, Kind::Video)) => c.video.push(packet),
                        _ => c.audio.push(packet),
                    }
                }
                RTCMessage::RtcpPacket(_, packets) => {
                    for p in &packets {
                        let any = p.as_any();
                        c.sender_reports += usize::from(any.is::<SenderReport>());
                        if let Some(sr) = any.downcast_ref::<SenderReport>() {
                            c.sender_report_log.push((
                                sr.ssrc,
                                sr.packet_count,
                                sr.octet_count,
                                sr.rtp_time,
                            ));
                        }
                        c.receiver_reports += usize::from(any.is::<ReceiverReport>());
                    }
                }
                _ => {}
            }
        }
    }

    /// Steps until `done` holds (true) or `limit` of simulated time passes (false).
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step(Duration::from_millis(1));
        }
        done(self)
    }

    /// Whether every client and every SFU peer reported connected.
    pub fn all_connected(&mut self, sfu_peers: usize) -> bool {
        let mut up = 0;
        while let Ok(ev) = self.events.try_recv() {
            if ev.event == PeerEvent::Connected {
                up += 1;
            }
        }
        self.connected_sfu_peers += up;
        self.clients.iter().all(|c| c.connected) && self.connected_sfu_peers >= sfu_peers
    }

    /// A browser that takes an incoming call offered by the SFU: returns its client index and
    /// its SDP answer (it sends audio on the answered m-line).
    pub fn add_callee(&mut self, offer: &str) -> (usize, String) {
        let addr = self.client_addr();
        let mut pc = client_pc_with(addr, caller_media(), self.now);
        pc.set_remote_description(
            self.now,
            RTCSessionDescription::offer(offer.to_owned()).expect("offer"),
        )
        .expect("remote offer");
        let ssrc = rand::random::<u32>();
        let track = MediaStreamTrack::new(
            format!("stream-{ssrc}"),
            format!("track-{ssrc}"),
            format!("label-{ssrc}"),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).expect("add_track");
        let answer = pc.create_answer(None).expect("answer");
        pc.set_local_description(self.now, answer)
            .expect("local answer");
        let answer = pc.local_description().expect("answer").sdp;
        let mut client = Client::new(pc, addr);
        client.senders = Some([(sender, ssrc), (sender, ssrc)]);
        self.clients.push(client);
        (self.clients.len() - 1, answer)
    }

    /// An incoming SIP call offered to a browser: returns the peer id and the WebRTC offer.
    pub fn incoming_offer(
        &mut self,
        sip_offer: &str,
        leg: SocketAddr,
    ) -> Result<(PeerId, String), crate::MediaError> {
        let id = self.peer_id();
        let now = self.now;
        let sdes = self.sdes;
        let sdp = self.core_of(id).incoming_offer(
            now,
            id,
            sip_offer,
            &[(Kind::Audio, leg, leg)],
            sdes,
        )?;
        self.leg_shard.insert(leg, usize::from(id.shard().0));
        self.pump();
        self.plain_locals.push(leg);
        Ok((id, sdp))
    }

    /// The browser's answer to an incoming call: returns the plain SDP answer for SIP.
    pub fn incoming_answer(
        &mut self,
        id: PeerId,
        answer: &str,
    ) -> Result<String, crate::MediaError> {
        let now = self.now;
        let sip = self.core_of(id).incoming_answer(now, id, answer);
        self.pump();
        sip
    }

    /// A browser that calls with audio (Opus 111, PCMA 8, telephone-event 126): returns its
    /// client index and its SDP offer.
    pub fn add_caller(&mut self) -> (usize, String) {
        let addr = self.client_addr();
        let media = caller_media();
        let mut pc = client_pc_with(addr, media, self.now);
        let ssrc = rand::random::<u32>();
        let track = MediaStreamTrack::new(
            format!("stream-{ssrc}"),
            format!("track-{ssrc}"),
            format!("label-{ssrc}"),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                // No codec: the offer lists every registered codec, as browsers do.
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).expect("add_track");
        let offer = pc.create_offer(None).expect("offer");
        pc.set_local_description(self.now, offer)
            .expect("local offer");
        let offer = pc.local_description().expect("offer").sdp;
        let mut client = Client::new(pc, addr);
        client.senders = Some([(sender, ssrc), (sender, ssrc)]);
        self.clients.push(client);
        (self.clients.len() - 1, offer)
    }

    /// Starts a bridged call for caller `c`: returns the peer id and the plain SDP offer.
    pub fn bridge_offer(
        &mut self,
        offer: &str,
        leg: SocketAddr,
    ) -> Result<(PeerId, String), crate::MediaError> {
        let id = self.peer_id();
        let sdes = self.sdes;
        let sdp = self
            .core_of(id)
            .bridge_offer(id, offer, &[(Kind::Audio, leg, leg)], sdes)?;
        self.leg_shard.insert(leg, usize::from(id.shard().0));
        self.plain_locals.push(leg);
        Ok((id, sdp))
    }

    /// The phone answered: completes the call toward the caller client `c`.
    pub fn bridge_answer(
        &mut self,
        id: PeerId,
        c: usize,
        answer: &str,
    ) -> Result<(), crate::MediaError> {
        let now = self.now;
        let sdp = self.core_of(id).bridge_answer(now, id, answer)?;
        self.pump();
        let now = self.now;
        self.clients[c]
            .pc
            .set_remote_description(now, RTCSessionDescription::answer(sdp).expect("answer"))
            .expect("remote answer");
        Ok(())
    }

    /// The browser client `c` sends a new offer on call `id` (e.g. hold): returns the plain
    /// re-INVITE SDP; the browser gets the answer.
    pub fn browser_reoffer(
        &mut self,
        id: PeerId,
        c: usize,
        offer: &str,
    ) -> Result<String, crate::MediaError> {
        let now = self.now;
        let crate::BrowserUpdate::Answered { answer, sip } =
            self.core_of(id).browser_reoffer(now, id, offer, &[])?
        else {
            panic!("a re-offer with the same media is answered at once");
        };
        self.pump();
        let now = self.now;
        self.clients[c]
            .pc
            .set_remote_description(now, RTCSessionDescription::answer(answer).expect("answer"))
            .expect("remote answer");
        Ok(sip)
    }

    /// A plain RTP endpoint at `addr` that records what it receives.
    pub fn add_phone(&mut self, addr: SocketAddr) {
        self.phones.entry(addr).or_default();
    }

    /// The phone at `from` sends a datagram to `to`.
    pub fn phone_send(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        self.queue.push_back((from, to, data));
    }

    /// A caller client sends one RTP packet with payload type `pt`.
    pub fn caller_send(&mut self, c: usize, pt: u8, seq: u16, ts: u32, payload: Bytes) {
        let Some(senders) = self.clients[c].senders else {
            return;
        };
        let (sender, ssrc) = senders[0];
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        let now = self.now;
        let client = &mut self.clients[c];
        if let Some(mut s) = client.pc.rtp_sender(sender) {
            let _ = s.write_rtp(now, packet);
        }
        self.drain_client(c);
    }

    /// Changes what a subscriber gets (pause, resume, bitrate limit).
    pub fn set_forward(&mut self, id: PeerId, options: crate::router::ForwardOptions) {
        let now = self.now;
        self.core_of(id).set_forward(now, id, options);
        self.pump();
    }

    /// Feeds a plain RTP datagram from a phone straight into the SFU (for the bench).
    pub fn inject_plain(
        &mut self,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
        tx: &mut impl FnMut(SocketAddr, SocketAddr, &[u8]) -> bool,
    ) {
        let k = self.leg_shard.get(&local).copied().unwrap_or(0);
        self.cores[k].handle_datagram(self.now, local, from, data);
        self.take_out(tx);
    }

    /// Publisher client `p` sends video frames `from..from + frames` (one packet each, frame
    /// 0 a keyframe, the frame counter in the payload), 33 ms apart.
    pub fn send_video(&mut self, p: usize, from: u64, frames: u64) {
        for i in from..from + frames {
            let mut out = Vec::new();
            let now = self.now;
            self.clients[p].make_rtp(now, Kind::Video, vp8_payload(1200, i == 0, i), &mut out);
            let c = &self.clients[p];
            let (addr, sfu) = (c.addr, c.server.unwrap_or(self.sfu_addr));
            for d in out {
                self.send_raw(addr, sfu, d);
            }
            let until = self.now + Duration::from_millis(33);
            self.run_until(Duration::from_millis(40), |net| net.now >= until);
        }
    }

    /// Puts a datagram on the network as if `from` sent it (a forged source, a replay...).
    pub fn send_raw(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        self.queue.push_back((from, to, data));
    }

    /// Queues datagrams the SFU sent (from [`Net::inject`]) for delivery to the clients.
    pub fn deliver(&mut self, datagrams: Vec<(SocketAddr, Vec<u8>)>) {
        for (to, data) in datagrams {
            self.queue.push_back((self.sfu_addr, to, data));
        }
    }

    /// Feeds datagrams from a client straight into the SFU (for the bench), sending the
    /// SFU's output to `tx`.
    pub fn inject(
        &mut self,
        from: SocketAddr,
        data: &[u8],
        tx: &mut impl FnMut(SocketAddr, SocketAddr, &[u8]) -> bool,
    ) {
        self.cores[0].handle_datagram(self.now, self.sfu_addr, from, data);
        self.take_out(tx);
    }

    /// Hands the core's datagrams to `tx` (no allocation) and collects its events.
    fn take_out(&mut self, tx: &mut impl FnMut(SocketAddr, SocketAddr, &[u8]) -> bool) {
        for core in &mut self.cores {
            if core.poll_transmit(&mut self.out) {
                for (from, to, data) in self.out.iter() {
                    tx(from, to, data);
                }
                self.out.clear();
            }
            while let Some(ev) = core.poll_event() {
                self.events.0.push_back(ev);
            }
        }
    }

    /// Puts the core's datagrams on the network and collects its events.
    fn pump(&mut self) {
        for core in &mut self.cores {
            if core.poll_transmit(&mut self.out) {
                for (from, to, data) in self.out.iter() {
                    self.queue.push_back((from, to, data.to_vec()));
                }
                self.out.clear();
            }
            while let Some(ev) = core.poll_event() {
                self.events.0.push_back(ev);
            }
        }
    }
}

/// The events a core gave the application, oldest first.
#[derive(Debug, Default)]
pub struct Events(pub VecDeque<MediaEvent>);

impl Events {
    /// The oldest event not read yet.
    pub fn try_recv(&mut self) -> Result<MediaEvent, NoEvent> {
        self.0.pop_front().ok_or(NoEvent)
    }
}

/// [`Events::try_recv`] found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoEvent;

/// A VP8 payload of `len` bytes starting a keyframe (S=1, PID=0, P=0) or an interframe.
pub fn vp8_payload(len: usize, keyframe: bool, counter: u64) -> Bytes {
    let mut p = vec![0u8; len.max(16)];
    p[0] = 0x10;
    p[1] = if keyframe { 0x10 } else { 0x11 };
    p[2..10].copy_from_slice(&counter.to_be_bytes());
    Bytes::from(p)
}
