//! Phones in rooms: a SIP phone's plain audio leg joined to the audio mix of a room
//! ([`crate::mix`]). The phone is a producer of the router like any publisher — browsers
//! subscribe to its voice, which the mixer encodes in Opus every tick — and it hears the
//! room's N − 1 mix in its own codec.
//!
//! Browser publishers of a room are named to the core with [`Core::mix_add`]; their audio is
//! decoded only while the room has a phone (the mixer exists from the first phone to the
//! last). The mix runs every [`TICK`] from [`Core::handle_timeout`].

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand::Rng;
use tracing::{debug, info, warn};

use super::calls::{opened, Leg};
use super::Core;
use crate::bridge::phone::{answer_phone, answered_phone, offer_phone};
use crate::bridge::plain::PlainLeg;
use crate::bridge::sdes::SdesMode;
use crate::bridge::sdp::Chosen;
use crate::ids::{Kind, MixId, PeerId};
use crate::mix::codec::AudioCodec;
use crate::mix::{Mixer, TICK};
use crate::{router, MediaError};

/// A tick later than this is not caught up frame by frame: the mix restarts from now.
const MAX_BEHIND: std::time::Duration = std::time::Duration::from_millis(100);

/// One phone in a room.
pub(super) struct Phone {
    leg: PlainLeg,
    mix: MixId,
    codec: AudioCodec,
    /// The stream toward the phone.
    seq: u16,
    ts: u32,
    /// The phone's voice toward the browsers (Opus, 48 kHz clock).
    feed_ssrc: u32,
    feed_seq: u16,
    feed_ts: u32,
    /// The RFC 4733 event being pressed (logged once per press).
    digit: Option<u8>,
}

/// The digit of an RFC 4733 event code.
fn digit(event: u8) -> char {
    match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => '?',
    }
}

impl Core {
    /// A phone joins the audio mix of room `mix`: answers its SDP offer on the leg `local`
    /// (bound by the shell). Its voice becomes a producer browsers can subscribe to.
    pub fn phone_join(
        &mut self,
        now: Instant,
        id: PeerId,
        mix: MixId,
        sip_offer: &str,
        local: Leg,
        sdes: SdesMode,
    ) -> Result<String, MediaError> {
        let (_, socket, advertised) = local;
        let session_id = u64::from(self.rng.random::<u32>());
        let (chosen, codec, answer) = answer_phone(
            sip_offer,
            socket,
            advertised,
            session_id,
            sdes,
            &mut self.rng,
        )?;
        self.phone_start(now, id, mix, &chosen, codec)?;
        Ok(answer)
    }

    /// A call from room `mix` to a phone (dial-out): returns the SDP offer for the INVITE on
    /// the leg `local`; the phone joins the mix when its answer comes
    /// ([`Core::phone_answered`]).
    pub fn phone_offer(&mut self, id: PeerId, mix: MixId, local: Leg, sdes: SdesMode) -> String {
        let (_, socket, advertised) = local;
        let session_id = u64::from(self.rng.random::<u32>());
        let (sdp, offered) = offer_phone(socket, advertised, session_id, sdes, &mut self.rng);
        self.pending_phones.insert(id, (mix, offered));
        sdp
    }

    /// The phone answered a dial-out: it joins the room's mix.
    pub fn phone_answered(
        &mut self,
        now: Instant,
        id: PeerId,
        sip_answer: &str,
    ) -> Result<(), MediaError> {
        let Some((mix, offered)) = self.pending_phones.get(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let mix = *mix;
        let (chosen, codec) = answered_phone(offered, sip_answer)?;
        self.pending_phones.remove(&id);
        self.phone_start(now, id, mix, &chosen, codec)
    }

    /// A phone's negotiated leg joins the mix of room `mix`; its voice becomes a producer.
    fn phone_start(
        &mut self,
        now: Instant,
        id: PeerId,
        mix: MixId,
        chosen: &Chosen,
        codec: AudioCodec,
    ) -> Result<(), MediaError> {
        let mixer = match self.mixers.get_mut(&mix) {
            Some(m) => m,
            None => {
                // The room's first phone: its browsers' audio starts being decoded.
                let mut m = Mixer::new(self.opus);
                for (publisher, _) in self.mix_of.iter().filter(|(_, m)| **m == mix) {
                    if let Err(e) = m.add_publisher(*publisher) {
                        warn!(peer = publisher.0, error = %e, "publisher not mixed");
                    }
                }
                self.mixers.entry(mix).or_insert(m)
            }
        };
        mixer
            .add_phone(id, codec)
            .map_err(|e| MediaError::Rtc(e.to_string()))?;
        let leg = PlainLeg::new(chosen, self.rng.random());
        self.demux.add_leg(chosen.local, id);
        self.router.add_producer(id);
        self.phones.insert(
            id,
            Phone {
                leg,
                mix,
                codec,
                seq: self.rng.random(),
                ts: self.rng.random(),
                feed_ssrc: self.rng.random(),
                feed_seq: self.rng.random(),
                feed_ts: self.rng.random(),
                digit: None,
            },
        );
        self.next_mix_tick.get_or_insert(now + TICK);
        info!(
            peer = id.0,
            room = mix.0,
            codec = codec.name(),
            "phone joined the room's mix"
        );
        Ok(())
    }

    /// `publisher` publishes in room `mix`: its audio goes into the room's mix while the
    /// room has phones.
    pub fn mix_add(&mut self, publisher: PeerId, mix: MixId) {
        self.mix_of.insert(publisher, mix);
        if let Some(m) = self.mixers.get_mut(&mix) {
            if let Err(e) = m.add_publisher(publisher) {
                warn!(peer = publisher.0, error = %e, "publisher not mixed");
            }
        }
    }

    /// Mutes or unmutes phone `id` in its room's mix.
    pub fn mix_mute(&mut self, id: PeerId, muted: bool) {
        let Some(mix) = self.phones.get(&id).map(|p| p.mix) else {
            return;
        };
        if let Some(m) = self.mixers.get_mut(&mix) {
            m.set_muted(id, muted);
        }
    }

    /// Whether `id` is a phone in a room.
    pub fn is_phone(&self, id: PeerId) -> bool {
        self.phones.contains_key(&id)
    }

    /// Takes `id` (a phone or a publisher) out of its room's mix; the mix ends with its
    /// last phone.
    pub(super) fn mix_remove(&mut self, id: PeerId) {
        self.pending_phones.remove(&id);
        let mix = match self.phones.remove(&id) {
            Some(phone) => {
                self.demux
                    .remove(id, "", &[], std::iter::once(phone.leg.local));
                Some(phone.mix)
            }
            None => self.mix_of.remove(&id),
        };
        let Some(mix) = mix else {
            return;
        };
        if let Some(m) = self.mixers.get_mut(&mix) {
            m.remove(id);
            if !m.has_phones() {
                self.mixers.remove(&mix);
            }
        }
        if self.mixers.is_empty() {
            self.next_mix_tick = None;
        }
    }

    /// A datagram on a phone's leg: its audio goes into the mix, its digits to the log.
    pub(super) fn phone_datagram(
        &mut self,
        now: Instant,
        id: PeerId,
        from: SocketAddr,
        data: &[u8],
    ) {
        let Some(phone) = self.phones.get_mut(&id) else {
            return;
        };
        let leg = &mut phone.leg;
        let Some(data) = opened(&mut self.stats, leg.open(data)) else {
            return;
        };
        let Some(packet) = leg.receive(from, &data, now) else {
            return;
        };
        let (pt, te) = leg.sip_payload_types();
        if packet.payload_type == pt {
            if let Some(m) = self.mixers.get_mut(&phone.mix) {
                m.push(id, packet.sequence_number, packet.timestamp, packet.payload);
            }
        } else if Some(packet.payload_type) == te && packet.payload.len() >= 4 {
            // RFC 4733: event, E bit; one log line per press, at its end.
            let (event, end) = (packet.payload[0], packet.payload[1] & 0x80 != 0);
            if end && phone.digit != Some(event) {
                info!(peer = id.0, room = phone.mix.0, digit = %digit(event), "DTMF from a phone");
                phone.digit = Some(event);
            } else if !end {
                phone.digit = phone.digit.filter(|d| *d == event);
            }
        } else {
            self.stats.datagrams_dropped += 1;
        }
    }

    /// Runs the mix ticks that are due: each phone gets its frame, each phone's voice goes
    /// to its subscribers.
    pub(super) fn mix_tick(&mut self, now: Instant) {
        let Some(mut due) = self.next_mix_tick else {
            return;
        };
        if now.saturating_duration_since(due) > MAX_BEHIND {
            debug!(
                behind_ms = now.saturating_duration_since(due).as_millis() as u64,
                "mix late: restarted"
            );
            due = now;
        }
        while due <= now {
            self.mix_once(now);
            due += TICK;
        }
        self.next_mix_tick = (!self.mixers.is_empty()).then_some(due);
    }

    fn mix_once(&mut self, now: Instant) {
        let Core {
            mixers,
            phones,
            router,
            peers,
            outbox,
            scratch,
            stats,
            local_addr,
            current,
            levels,
            ..
        } = self;
        for mixer in mixers.values_mut() {
            mixer.tick();
            for f in mixer.outputs() {
                let Some(phone) = phones.get_mut(&f.phone) else {
                    continue;
                };
                // Its level counts as a publisher's (conference-audio-levels, muted).
                levels.observe(now, f.phone, f.level);
                if !f.to_phone.is_empty() {
                    if let Some(to) = phone.leg.send_own(phone.seq, phone.ts, f.to_phone, scratch) {
                        outbox.push(phone.leg.local, to, scratch);
                    }
                    phone.seq = phone.seq.wrapping_add(1);
                }
                phone.ts = phone.ts.wrapping_add(phone.codec.ts_step());
                if !f.feed.is_empty() {
                    // The router needs the header only: audio is not kept for NACKs.
                    let meta = router::Packet {
                        kind: Kind::Audio,
                        ssrc: phone.feed_ssrc,
                        seq: phone.feed_seq,
                        ts: phone.feed_ts,
                        marker: false,
                        keyframe: false,
                        payload: Bytes::new(),
                    };
                    phone.feed_seq = phone.feed_seq.wrapping_add(1);
                    for c in router.route(f.phone, &meta, || None, now) {
                        *current = Some(c.consumer);
                        let Some(sub) = peers.get_mut(&c.consumer) else {
                            continue;
                        };
                        stats.count_forward(sub.transport.forward(
                            Kind::Audio,
                            false,
                            c.seq,
                            c.ts,
                            f.feed,
                            now,
                            *local_addr,
                            scratch,
                            outbox,
                        ));
                    }
                    *current = None;
                }
                phone.feed_ts = phone.feed_ts.wrapping_add(AudioCodec::Opus.ts_step());
            }
        }
    }

    /// RTCP sender reports of the phones' legs that are due.
    pub(super) fn send_phone_reports(&mut self, now: Instant) {
        for phone in self.phones.values_mut() {
            if let Some(to) = phone.leg.report(now, &self.clock, &mut self.scratch) {
                self.outbox.push(phone.leg.local, to, &self.scratch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::digit;

    #[test]
    fn rfc4733_events_are_digits() {
        assert_eq!(digit(0), '0');
        assert_eq!(digit(9), '9');
        assert_eq!(digit(10), '*');
        assert_eq!(digit(11), '#');
        assert_eq!(digit(12), 'A');
        assert_eq!(digit(200), '?');
    }
}
