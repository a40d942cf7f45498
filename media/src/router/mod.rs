//! The router of a shard: producers (a publisher's media) to consumers (a subscriber's view of
//! it). It decides what each consumer gets and asks for keyframes; it never touches a
//! transport. The core feeds it the header of each packet a publisher sends and sends what it
//! returns.
//!
//! * A [`Producer`] owns its simulcast [`Layer`]s (bitrate windows) and keyframe pacing: at most
//!   one request outstanding per layer (a keyframe clears it, so a consumer that arrives just
//!   after one is served at once), retried after [`KEYFRAME_RETRY`]; requests relayed from a
//!   subscriber's PLI/FIR are further held to one per [`KEYFRAME_REQUEST_INTERVAL`].
//! * A [`Consumer`] is one subscriber's forwarder (LiveKit's Forwarder): per kind paused or
//!   not, the keyframe gate (video starts, resumes and switches layer on a keyframe), the
//!   layer it is on and the one it goes to, and the [`Munger`] that keeps its stream
//!   continuous across those changes.
//!
//! The consumers of a producer live inside it: a packet is routed with one lookup, whatever
//! the number of subscribers, and [`Router::route`] fills a reused buffer (no allocation).

pub mod keyframes;
pub mod layers;
pub mod munger;
pub mod vp8;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::ids::{Kind, PeerId};
use layers::{Adaptation, Layer, LAYER_WINDOW};
use munger::Munger;

/// A requested keyframe not seen after this long is requested again.
pub const KEYFRAME_RETRY: Duration = Duration::from_millis(500);
/// Keyframe requests relayed from subscribers (their PLI/FIR) go upstream at most this often.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);

/// What a forwarded packet is, as the router needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub kind: Kind,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    /// Video: starts a keyframe.
    pub keyframe: bool,
    /// The payload (video is kept for retransmissions: a reference, not a copy).
    pub payload: Bytes,
}

/// Video packets of each layer kept for retransmission (about 2 s of a 2.5 Mbit/s stream).
pub const HISTORY: usize = 512;

/// A video packet as the publisher sent it.
#[derive(Debug, Clone)]
struct Recent {
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Bytes,
}

/// A packet to send again to a consumer: its sequence number and timestamp as that consumer
/// got them, the marker, the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resend {
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload: Bytes,
}

/// One copy to send: to `consumer`, with its sequence number and timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    pub consumer: PeerId,
    pub seq: u16,
    pub ts: u32,
}

/// Ask `producer` for a keyframe of its layer `ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeRequest {
    pub producer: PeerId,
    pub ssrc: u32,
}

/// What a subscriber gets forwarded.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardOptions {
    pub audio: Option<bool>,
    pub video: Option<bool>,
    /// Bits per second the subscriber wants at most (picks a simulcast layer); 0 clears it.
    pub bitrate: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("no such producer")]
    UnknownProducer,
}

/// Per-kind forwarding state of one consumer.
#[derive(Debug, Default)]
struct Forward {
    paused: bool,
    munger: Munger,
    /// Video only: drop until a keyframe starts (a new consumer, or after a pause).
    need_keyframe: bool,
    /// Video only: the simulcast layer (SSRC) forwarded now, and the one chosen next.
    current: Option<u32>,
    target: Option<u32>,
    /// Video only: the bitrate the subscriber asked for, and its browser's estimate (REMB).
    requested: Option<u64>,
    remb: Option<u64>,
    adaptation: Box<Adaptation>,
}

/// One subscriber's forwarder.
#[derive(Debug)]
pub struct Consumer {
    id: PeerId,
    /// Its transport is up (DTLS keys exist): only then is anything routed to it.
    active: bool,
    audio: Forward,
    video: Forward,
    created: Instant,
    first_sent: bool,
}

impl Consumer {
    fn new(id: PeerId, now: Instant) -> Consumer {
        Consumer {
            id,
            active: false,
            audio: Forward::default(),
            video: Forward {
                need_keyframe: true,
                ..Forward::default()
            },
            created: now,
            first_sent: false,
        }
    }

    /// The layer this consumer is on or going to.
    fn layer(&self) -> Option<u32> {
        self.video.target.or(self.video.current)
    }

    /// Decides one packet: `Some((seq, ts))` to send; `Err(ssrc)` when it waits for a
    /// keyframe of that layer.
    fn decide(&mut self, p: &Packet) -> Result<Option<(u16, u32)>, u32> {
        let fwd = match p.kind {
            Kind::Audio => &mut self.audio,
            Kind::Video => &mut self.video,
        };
        if fwd.paused {
            return Ok(None);
        }
        if p.kind == Kind::Video {
            if fwd.target.is_none() && fwd.current.is_none() {
                fwd.target = Some(p.ssrc);
            }
            let switching = fwd.target == Some(p.ssrc) && fwd.current != Some(p.ssrc);
            if switching || (fwd.current == Some(p.ssrc) && fwd.need_keyframe) {
                if !p.keyframe {
                    // Still on the old layer (if any) until the new one's keyframe: its
                    // packets come through the `current` branch below.
                    return Err(p.ssrc);
                }
                fwd.current = Some(p.ssrc);
                fwd.need_keyframe = false;
                fwd.munger.switch();
            } else if fwd.current != Some(p.ssrc) {
                return Ok(None);
            }
        }
        let ts_step = if p.kind == Kind::Video { 3000 } else { 960 };
        Ok(fwd.munger.map(p.seq, p.ts, ts_step))
    }
}

/// A publisher's media and who consumes it.
#[derive(Debug, Default)]
pub struct Producer {
    /// Video SSRCs (one, or one per simulcast layer).
    layers: Vec<Layer>,
    /// The recent video packets of each layer (SSRC), shared by every consumer: a NACK is
    /// mapped back through its consumer's Munger (no history per subscriber, no copy per
    /// forwarded packet).
    history: Vec<(u32, Box<[Option<Recent>]>)>,
    consumers: Vec<Consumer>,
}

impl Producer {
    /// Whether a keyframe request for `ssrc` goes out now (and marks it outstanding).
    /// `relayed`: it comes from a subscriber's PLI/FIR rather than the router's own need.
    fn keyframe(&mut self, ssrc: Option<u32>, now: Instant, relayed: bool) -> Option<u32> {
        let layer = match ssrc {
            Some(ssrc) => self.layers.iter_mut().find(|l| l.ssrc == ssrc),
            None => self.layers.first_mut(),
        }?;
        let since = layer
            .last_keyframe_request
            .map(|t| now.saturating_duration_since(t));
        let outstanding = layer.awaiting_keyframe && since.is_some_and(|s| s < KEYFRAME_RETRY);
        let paced = relayed && since.is_some_and(|s| s < KEYFRAME_REQUEST_INTERVAL);
        if outstanding || paced {
            return None;
        }
        layer.awaiting_keyframe = true;
        layer.last_keyframe_request = Some(now);
        Some(layer.ssrc)
    }

    /// The layer a packet of `ssrc` counts for, made on first sight.
    fn layer_for(
        &mut self,
        ssrc: u32,
        rid: impl FnOnce() -> Option<String>,
        now: Instant,
    ) -> &mut Layer {
        let at = match self.layers.iter().position(|l| l.ssrc == ssrc) {
            Some(at) => at,
            None => {
                self.layers.push(Layer::new(ssrc, rid(), now));
                self.layers.len() - 1
            }
        };
        &mut self.layers[at]
    }
}

/// Every producer and consumer of a shard.
#[derive(Debug, Default)]
pub struct Router {
    producers: HashMap<PeerId, Producer>,
    /// Consumer -> its producer.
    consumer_of: HashMap<PeerId, PeerId>,
    /// What [`Router::route`] decided (reused).
    copies: Vec<Outgoing>,
    /// Keyframe requests to send, in order.
    requests: VecDeque<KeyframeRequest>,
    /// Consumers that got their first packet: (consumer, time since it was created).
    firsts: Vec<(PeerId, Duration)>,
}

impl Router {
    pub fn add_producer(&mut self, id: PeerId) {
        self.producers.entry(id).or_default();
    }

    /// Removes a producer; its consumers stay registered but get nothing more.
    pub fn remove_producer(&mut self, id: PeerId) {
        if let Some(p) = self.producers.remove(&id) {
            for c in p.consumers {
                self.consumer_of.remove(&c.id);
            }
        }
    }

    pub fn is_producer(&self, id: PeerId) -> bool {
        self.producers.contains_key(&id)
    }

    /// A new consumer of `producer` (inactive until its transport is up).
    pub fn add_consumer(
        &mut self,
        producer: PeerId,
        id: PeerId,
        now: Instant,
    ) -> Result<(), RouterError> {
        let p = self
            .producers
            .get_mut(&producer)
            .ok_or(RouterError::UnknownProducer)?;
        let mut c = Consumer::new(id, now);
        c.video.target = layers::choose(&p.layers, None);
        p.consumers.push(c);
        self.consumer_of.insert(id, producer);
        Ok(())
    }

    pub fn remove_consumer(&mut self, id: PeerId) {
        if let Some(producer) = self.consumer_of.remove(&id) {
            if let Some(p) = self.producers.get_mut(&producer) {
                p.consumers.retain(|c| c.id != id);
            }
        }
    }

    fn consumer(&mut self, id: PeerId) -> Option<(&mut Producer, usize)> {
        let producer = self.consumer_of.get(&id)?;
        let p = self.producers.get_mut(producer)?;
        let at = p.consumers.iter().position(|c| c.id == id)?;
        Some((p, at))
    }

    /// Asks a consumer's producer for a keyframe of `layer` (`None`: the layer the consumer
    /// is on or going to), if its pacing allows.
    fn ask_keyframe(&mut self, id: PeerId, layer: Option<u32>, now: Instant, relayed: bool) {
        let Some(producer) = self.consumer_of.get(&id).copied() else {
            return;
        };
        let Some((p, at)) = self.consumer(id) else {
            return;
        };
        let layer = layer.or(p.consumers[at].layer());
        if let Some(ssrc) = p.keyframe(layer, now, relayed) {
            self.requests.push_back(KeyframeRequest { producer, ssrc });
        }
    }

    /// A consumer's transport is up: it gets media from now on, video from a keyframe
    /// requested at once.
    pub fn activate(&mut self, id: PeerId, now: Instant) {
        let Some((p, at)) = self.consumer(id) else {
            return;
        };
        p.consumers[at].active = true;
        self.ask_keyframe(id, None, now, false);
    }

    /// Routes one packet of `producer`: returns the copies to send; keyframe requests are in
    /// [`Router::poll_keyframe_request`]. `rid`: the simulcast rid of a video SSRC seen for
    /// the first time.
    pub fn route(
        &mut self,
        producer: PeerId,
        packet: &Packet,
        rid: impl FnOnce() -> Option<String>,
        now: Instant,
    ) -> &[Outgoing] {
        self.copies.clear();
        let Some(p) = self.producers.get_mut(&producer) else {
            return &self.copies;
        };
        if packet.kind == Kind::Video {
            let layer = p.layer_for(packet.ssrc, rid, now);
            layer.count(packet.payload.len());
            if packet.keyframe {
                layer.awaiting_keyframe = false;
            }
            let at = match p.history.iter().position(|(s, _)| *s == packet.ssrc) {
                Some(at) => at,
                None => {
                    p.history
                        .push((packet.ssrc, vec![None; HISTORY].into_boxed_slice()));
                    p.history.len() - 1
                }
            };
            p.history[at].1[usize::from(packet.seq) % HISTORY] = Some(Recent {
                seq: packet.seq,
                ts: packet.ts,
                marker: packet.marker,
                payload: packet.payload.clone(),
            });
        }
        let mut wants_keyframe = None;
        for c in p.consumers.iter_mut().filter(|c| c.active) {
            match c.decide(packet) {
                Ok(Some((seq, ts))) => {
                    if !c.first_sent {
                        c.first_sent = true;
                        self.firsts
                            .push((c.id, now.saturating_duration_since(c.created)));
                    }
                    self.copies.push(Outgoing {
                        consumer: c.id,
                        seq,
                        ts,
                    });
                }
                Ok(None) => {}
                Err(ssrc) => wants_keyframe = Some(ssrc),
            }
        }
        if let Some(ssrc) = wants_keyframe.and_then(|l| p.keyframe(Some(l), now, false)) {
            self.requests.push_back(KeyframeRequest { producer, ssrc });
        }
        &self.copies
    }

    /// The video packet a consumer's NACK names (its own sequence number), as it got it; `None`
    /// when it is no longer kept, or was sent before the consumer's last layer switch.
    pub fn retransmission(&mut self, consumer: PeerId, seq: u16) -> Option<Resend> {
        let (p, at) = self.consumer(consumer)?;
        let video = &p.consumers[at].video;
        let ssrc = video.current?;
        let (in_seq, ts_offset) = video.munger.unmap(seq)?;
        let (_, history) = p.history.iter().find(|(s, _)| *s == ssrc)?;
        let r = history[usize::from(in_seq) % HISTORY]
            .as_ref()
            .filter(|r| r.seq == in_seq)?;
        Some(Resend {
            seq,
            ts: r.ts.wrapping_add(ts_offset),
            marker: r.marker,
            payload: r.payload.clone(),
        })
    }

    /// A subscriber's browser asked for a keyframe (PLI/FIR): relayed to its layer, paced.
    pub fn keyframe_wanted(&mut self, consumer: PeerId, now: Instant) {
        self.ask_keyframe(consumer, None, now, true);
    }

    /// A publisher's own transport asked (no consumer): its first layer, paced.
    pub fn producer_keyframe(&mut self, producer: PeerId, now: Instant) {
        if let Some(p) = self.producers.get_mut(&producer) {
            if let Some(ssrc) = p.keyframe(None, now, true) {
                self.requests.push_back(KeyframeRequest { producer, ssrc });
            }
        }
    }

    /// Pauses or resumes what a consumer gets, or caps its bitrate.
    pub fn set_forward(&mut self, id: PeerId, options: ForwardOptions, now: Instant) {
        let Some((p, at)) = self.consumer(id) else {
            return;
        };
        let c = &mut p.consumers[at];
        let mut resume_video = false;
        if let Some(on) = options.audio {
            if c.audio.paused && on {
                c.audio.munger.switch();
            }
            c.audio.paused = !on;
        }
        if let Some(on) = options.video {
            if c.video.paused && on {
                c.video.munger.switch();
                c.video.need_keyframe = true;
                resume_video = true;
            }
            c.video.paused = !on;
        }
        if let Some(bitrate) = options.bitrate {
            c.video.requested = (bitrate > 0).then_some(bitrate as u64);
        }
        if options.bitrate.is_some() {
            self.retarget(id, now);
        }
        if resume_video {
            self.ask_keyframe(id, None, now, false);
        }
    }

    /// A consumer's browser estimate (REMB), in bits/s.
    pub fn estimate(&mut self, id: PeerId, bitrate: u64) {
        if let Some((p, at)) = self.consumer(id) {
            p.consumers[at].video.remb = Some(bitrate);
        }
    }

    /// Re-chooses a consumer's layer; a change asks the producer for a keyframe of it.
    fn retarget(&mut self, id: PeerId, now: Instant) {
        let Some((p, at)) = self.consumer(id) else {
            return;
        };
        let video = &mut p.consumers[at].video;
        let on = video.target.or(video.current);
        let target = video
            .adaptation
            .choose(&p.layers, on, video.requested, video.remb, now);
        let switch = video.target != target && target.is_some() && video.current != target;
        video.target = target;
        if let (true, Some(ssrc)) = (switch, target) {
            tracing::debug!(peer = id.0, ssrc, "switching simulcast layer");
            self.ask_keyframe(id, Some(ssrc), now, false);
        }
    }

    /// Closes the layers' bitrate windows and re-chooses the layer of every consumer of a
    /// simulcast producer (every [`LAYER_WINDOW`]).
    pub fn tick(&mut self, now: Instant) {
        let mut retarget = Vec::new();
        for p in self.producers.values_mut() {
            let mut changed = false;
            for l in p.layers.iter_mut() {
                changed |= l.tick(now);
            }
            if changed && p.layers.len() > 1 {
                retarget.extend(p.consumers.iter().map(|c| c.id));
            }
        }
        for id in retarget {
            self.retarget(id, now);
        }
    }

    /// The next keyframe request to send.
    pub fn poll_keyframe_request(&mut self) -> Option<KeyframeRequest> {
        self.requests.pop_front()
    }

    /// The next consumer that got its first packet, with the time since it was created.
    pub fn poll_first_packet(&mut self) -> Option<(PeerId, Duration)> {
        self.firsts.pop()
    }

    /// The window layers are measured over.
    pub const WINDOW: Duration = LAYER_WINDOW;
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: PeerId = PeerId(1);
    const A: PeerId = PeerId(2);
    const B: PeerId = PeerId(3);

    fn video(ssrc: u32, seq: u16, keyframe: bool) -> Packet {
        sized(ssrc, seq, keyframe, 1000)
    }

    fn sized(ssrc: u32, seq: u16, keyframe: bool, len: usize) -> Packet {
        Packet {
            kind: Kind::Video,
            ssrc,
            seq,
            ts: u32::from(seq) * 3000,
            marker: true,
            keyframe,
            payload: Bytes::from(vec![seq as u8; len]),
        }
    }

    fn audio(seq: u16) -> Packet {
        Packet {
            kind: Kind::Audio,
            ssrc: 99,
            seq,
            ts: u32::from(seq) * 960,
            marker: false,
            keyframe: false,
            payload: Bytes::from_static(&[0; 100]),
        }
    }

    fn route(r: &mut Router, p: &Packet, now: Instant) -> Vec<Outgoing> {
        r.route(P, p, || None, now).to_vec()
    }

    fn room(now: Instant) -> Router {
        let mut r = Router::default();
        r.add_producer(P);
        r.add_consumer(P, A, now).unwrap();
        r
    }

    #[test]
    fn nothing_reaches_a_consumer_before_its_transport_is_up() {
        let now = Instant::now();
        let mut r = room(now);
        assert!(route(&mut r, &audio(1), now).is_empty());
        assert!(route(&mut r, &video(7, 1, true), now).is_empty());
        r.activate(A, now);
        assert_eq!(route(&mut r, &audio(2), now).len(), 1);
        assert_eq!(r.poll_first_packet().map(|f| f.0), Some(A));
    }

    #[test]
    fn video_starts_on_a_keyframe_requested_when_the_consumer_comes_up() {
        let now = Instant::now();
        let mut r = room(now);
        route(&mut r, &video(7, 1, false), now);
        r.activate(A, now);
        assert_eq!(
            r.poll_keyframe_request(),
            Some(KeyframeRequest {
                producer: P,
                ssrc: 7
            })
        );
        // Interframes wait; the request is outstanding, so no second one.
        assert!(route(&mut r, &video(7, 2, false), now).is_empty());
        assert_eq!(r.poll_keyframe_request(), None);
        let sent = route(&mut r, &video(7, 3, true), now);
        assert_eq!(sent.len(), 1);
        assert_eq!(route(&mut r, &video(7, 4, false), now).len(), 1);
    }

    #[test]
    fn a_consumer_arriving_right_after_a_keyframe_is_asked_for_at_once() {
        let now = Instant::now();
        let mut r = room(now);
        route(&mut r, &video(7, 1, false), now);
        r.activate(A, now);
        assert!(r.poll_keyframe_request().is_some());
        route(&mut r, &video(7, 2, true), now + Duration::from_millis(50));
        // B comes up 60 ms later: the keyframe it needs is asked for now, not after 500 ms.
        r.add_consumer(P, B, now).unwrap();
        r.activate(B, now + Duration::from_millis(110));
        assert!(r.poll_keyframe_request().is_some());
    }

    #[test]
    fn an_unanswered_request_is_retried_and_relayed_ones_are_paced() {
        let now = Instant::now();
        let mut r = room(now);
        route(&mut r, &video(7, 1, false), now);
        r.activate(A, now);
        assert!(r.poll_keyframe_request().is_some());
        r.keyframe_wanted(A, now + Duration::from_millis(100));
        assert_eq!(r.poll_keyframe_request(), None);
        route(&mut r, &video(7, 2, false), now + KEYFRAME_RETRY);
        assert!(r.poll_keyframe_request().is_some(), "retried");
        // A keyframe came: a subscriber's PLI right after is still paced.
        let later = now + KEYFRAME_RETRY + Duration::from_millis(10);
        route(&mut r, &video(7, 3, true), later);
        r.keyframe_wanted(A, later);
        assert_eq!(r.poll_keyframe_request(), None);
        r.keyframe_wanted(A, later + KEYFRAME_REQUEST_INTERVAL);
        assert!(r.poll_keyframe_request().is_some());
    }

    #[test]
    fn a_paused_kind_is_not_sent_and_resumes_continuous_on_a_keyframe() {
        let now = Instant::now();
        let mut r = room(now);
        r.activate(A, now);
        let a = route(&mut r, &video(7, 1, true), now)[0];
        r.set_forward(
            A,
            ForwardOptions {
                video: Some(false),
                ..Default::default()
            },
            now,
        );
        assert!(route(&mut r, &video(7, 2, false), now).is_empty());
        r.set_forward(
            A,
            ForwardOptions {
                video: Some(true),
                ..Default::default()
            },
            now + Duration::from_secs(1),
        );
        assert!(route(&mut r, &video(7, 50, false), now).is_empty());
        let b = route(&mut r, &video(7, 51, true), now)[0];
        assert_eq!(b.seq, a.seq.wrapping_add(1), "one continuous stream");
        // Audio was never paused.
        assert_eq!(route(&mut r, &audio(1), now).len(), 1);
    }

    #[test]
    fn one_packet_fans_out_to_every_active_consumer_in_one_pass() {
        let now = Instant::now();
        let mut r = room(now);
        for i in 10..20 {
            r.add_consumer(P, PeerId(i), now).unwrap();
            r.activate(PeerId(i), now);
        }
        let sent = route(&mut r, &audio(1), now);
        assert_eq!(sent.len(), 10, "the inactive consumer A is skipped");
        r.remove_consumer(PeerId(10));
        assert_eq!(route(&mut r, &audio(2), now).len(), 9);
        r.remove_producer(P);
        assert!(route(&mut r, &audio(3), now).is_empty());
        assert!(r.add_consumer(P, B, now).is_err());
    }

    #[test]
    fn a_nack_gets_the_packet_as_this_consumer_got_it() {
        let now = Instant::now();
        let mut r = room(now);
        r.add_consumer(P, B, now).unwrap();
        r.activate(A, now);
        let a = route(&mut r, &video(7, 10, true), now)[0];
        r.activate(B, now);
        route(&mut r, &video(7, 11, false), now);
        let b = route(&mut r, &video(7, 12, true), now)
            .into_iter()
            .find(|c| c.consumer == B)
            .unwrap();
        // A got 10 as its first packet, B got 12 as its first: each NACK names its own.
        let ra = r.retransmission(A, a.seq).unwrap();
        assert_eq!((ra.seq, ra.ts, ra.payload[0]), (a.seq, a.ts, 10));
        let rb = r.retransmission(B, b.seq).unwrap();
        assert_eq!((rb.seq, rb.ts, rb.payload[0]), (b.seq, b.ts, 12));
        assert_eq!(
            r.retransmission(B, b.seq.wrapping_sub(1)),
            None,
            "never sent to B"
        );
        assert_eq!(
            r.retransmission(A, a.seq.wrapping_add(5)),
            None,
            "not sent yet"
        );
    }

    #[test]
    fn a_lower_bitrate_moves_the_consumer_to_a_lower_layer_at_its_keyframe() {
        let t0 = Instant::now();
        let mut r = room(t0);
        r.activate(A, t0);
        let _ = r.poll_keyframe_request();
        // Two layers: 7 at ~2.4 Mbit/s, 8 at ~240 kbit/s.
        let mut seq = 0u16;
        let mut now = t0;
        for _ in 0..30 {
            seq += 1;
            for (ssrc, len) in [(7, 10_000), (8, 1_000)] {
                route(&mut r, &sized(ssrc, seq, seq == 1, len), now);
            }
            now += Duration::from_millis(33);
        }
        r.tick(t0 + LAYER_WINDOW);
        r.set_forward(
            A,
            ForwardOptions {
                bitrate: Some(500_000),
                ..Default::default()
            },
            now,
        );
        assert_eq!(
            r.poll_keyframe_request(),
            Some(KeyframeRequest {
                producer: P,
                ssrc: 8
            })
        );
        // Layer 7 still flows until 8's keyframe; then only 8.
        assert_eq!(route(&mut r, &video(7, 100, false), now).len(), 1);
        assert!(route(&mut r, &video(8, 100, false), now).is_empty());
        assert_eq!(route(&mut r, &video(8, 101, true), now).len(), 1);
        assert!(route(&mut r, &video(7, 101, false), now).is_empty());
    }
}
