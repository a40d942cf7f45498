//! What a peer's transport hands the core after an input, and where it goes: its state
//! (connected, closed), NACKs answered from the router's history, keyframe requests and
//! bandwidth estimates, and the media it received: to a call's plain leg, to the room's mix,
//! or through the router to each consumer's send path.

use std::time::Instant;

use tracing::debug;

use super::{Core, MediaEvent, PeerEvent, Role};
use crate::ids::{Kind, PeerId};
use crate::router;

impl Core {
    /// Handles everything a peer's transport has to say.
    pub(super) fn drain(&mut self, id: PeerId, now: Instant) {
        let Some(slot) = self.peers.get_mut(&id) else {
            return;
        };
        let mut got = std::mem::take(&mut self.drained);
        got.clear();
        let t = &mut slot.transport;
        t.drain(now, self.local_addr, self.rtx, &mut self.outbox, &mut got);
        self.timers.set(id, t.timeout);
        // NACKed video, from the router's history of the publisher's layer.
        self.stats.nacks += got.nacks.len() as u64;
        for &seq in &got.nacks {
            let Some(r) = self.router.retransmission(id, seq) else {
                continue;
            };
            let header = (r.seq, r.ts, r.marker);
            let (local, scratch, out) = (self.local_addr, &mut self.scratch, &mut self.outbox);
            if t.retransmit(header, &r.payload, local, scratch, out) {
                self.stats.retransmissions += 1;
            }
        }
        match got.state {
            Some(true) if !t.connected => {
                t.connected = true;
                t.last_consent = now;
                debug!(
                    peer = id.0,
                    us = now.saturating_duration_since(t.created).as_micros() as u64,
                    "transport up"
                );
                self.events.push_back(MediaEvent {
                    peer: id,
                    event: PeerEvent::Connected,
                });
                if let Role::Subscriber = slot.role {
                    self.router.activate(id, now);
                }
            }
            Some(false) => {
                self.drained = got;
                self.remove(id, Some("connection closed".into()));
                return;
            }
            _ => {}
        }
        let is_publisher = matches!(slot.role, Role::Publisher);
        if let (true, Role::Bridged { legs }) = (got.keyframe_wanted, &mut slot.role) {
            // The browser waits for a keyframe of the far end's video: ask the SIP side.
            for leg in legs.iter_mut() {
                if let Some(to) = leg.keyframe_request(now, &mut self.scratch) {
                    self.outbox.push(leg.local, to, &self.scratch);
                }
            }
        }
        if got.keyframe_wanted {
            if is_publisher {
                self.router.producer_keyframe(id, now);
            } else {
                self.router.keyframe_wanted(id, now);
            }
        }
        if let Some(bitrate) = got.estimate {
            self.router.estimate(id, bitrate);
        }
        for (kind, packet) in got.rtp.drain(..) {
            self.forward(id, kind, &packet, now);
        }
        self.drained = got;
        self.current = Some(id);
        self.send_keyframe_requests(now);
    }

    /// Sends what a peer's browser sent us on: to a call's plain leg, or to each consumer.
    fn forward(&mut self, from: PeerId, kind: Kind, packet: &rtc::rtp::Packet, now: Instant) {
        if let Some(prefix) = &self.panic_payload {
            if packet.payload.starts_with(prefix) {
                panic!("injected panic (debug_panic_payload) in peer {}", from.0);
            }
        }
        let Core {
            peers,
            router,
            outbox,
            scratch,
            stats,
            current,
            local_addr,
            levels,
            mixers,
            mix_of,
            ..
        } = self;
        let Some(slot) = peers.get_mut(&from) else {
            return;
        };
        match &mut slot.role {
            Role::Bridged { legs } => {
                if let Some(leg) = legs.iter_mut().find(|l| l.kind == kind) {
                    if let Some(mut t) = leg.transcode.take() {
                        if packet.header.payload_type == t.browser_pt {
                            t.to_sip.push(&packet.payload);
                            while let Some((seq, ts, payload)) = t.to_sip.next_frame() {
                                if let Some(to) = leg.send_own(seq, ts, payload, scratch) {
                                    outbox.push(leg.local, to, scratch);
                                    stats.rtp_forwarded += 1;
                                }
                            }
                        }
                        leg.transcode = Some(t);
                    } else if let Some(to) = leg.to_sip(packet, scratch) {
                        outbox.push(leg.local, to, scratch);
                        stats.rtp_forwarded += 1;
                    }
                }
                return;
            }
            Role::Subscriber => return,
            Role::Publisher => {}
        }
        if let (Kind::Audio, Some(id)) = (kind, slot.transport.peer.audio_level_ext) {
            if let Some(ext) = packet
                .header
                .get_extension(id)
                .and_then(|e| e.first().copied())
            {
                levels.observe(now, from, ext);
            }
        }
        // Decoded for a room's mix only while some room of this shard has a phone.
        if kind == Kind::Audio && !mixers.is_empty() {
            if let Some(m) = mix_of.get(&from).and_then(|m| mixers.get_mut(m)) {
                m.push(
                    from,
                    packet.header.sequence_number,
                    packet.header.timestamp,
                    &packet.payload,
                );
            }
        }
        let ssrc = packet.header.ssrc;
        let meta = router::Packet {
            kind,
            ssrc,
            seq: packet.header.sequence_number,
            ts: packet.header.timestamp,
            marker: packet.header.marker,
            keyframe: kind == Kind::Video
                && router::keyframes::starts_keyframe(
                    slot.transport.peer.video_codec,
                    &packet.payload,
                ),
            payload: packet.payload.clone(),
        };
        let transport = &mut slot.transport;
        let copies = router.route(from, &meta, || transport.rid_of(ssrc), now);
        for c in copies {
            // Writing to this consumer is its work: a panic there ends it, not the publisher.
            *current = Some(c.consumer);
            let Some(sub) = peers.get_mut(&c.consumer) else {
                continue;
            };
            stats.count_forward(sub.transport.forward(
                kind,
                packet.header.marker,
                c.seq,
                c.ts,
                &packet.payload,
                now,
                *local_addr,
                scratch,
                outbox,
            ));
        }
        *current = Some(from);
        while let Some((peer, waited)) = router.poll_first_packet() {
            debug!(
                peer = peer.0,
                us = waited.as_micros() as u64,
                "first media sent to subscriber"
            );
        }
    }

    /// Sends the keyframe requests the router decided on (PLIs on publishers' receivers).
    pub(super) fn send_keyframe_requests(&mut self, now: Instant) {
        while let Some(r) = self.router.poll_keyframe_request() {
            let Some(slot) = self.peers.get_mut(&r.producer) else {
                continue;
            };
            if slot.transport.request_keyframe(r.ssrc, now) {
                self.stats.keyframe_requests += 1;
                slot.transport.flush(self.local_addr, &mut self.outbox);
                self.timers.set(r.producer, slot.transport.timeout);
            }
        }
    }
}
