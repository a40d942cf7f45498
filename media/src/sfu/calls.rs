//! The 1:1 call side of the SFU core: a browser's transport bridged to plain RTP legs toward
//! a SIP endpoint (outgoing and incoming calls, re-INVITEs, the plain legs' datagrams and
//! reports). See [`crate::plain`] for one leg and [`crate::sdp_plain`] for the SDP.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::debug;

use super::{Entry, Leg, Role, Sfu, Transmit};
use crate::engine::{MediaEvent, PeerId};
use crate::peer::{Kind, Peer};
use crate::plain::PlainLeg;
use crate::sdp_plain;
use crate::MediaError;

impl Sfu {
    /// Starts a bridged call: returns the plain RTP offer toward SIP for the browser's offer,
    /// with one local RTP address per media kind (`locals`, bound by the caller).
    /// `locals`: (kind, the leg socket's address, the address to put in the SDP).
    pub fn bridge_offer(
        &mut self,
        id: PeerId,
        browser_offer: &str,
        locals: &[(Kind, SocketAddr, SocketAddr)],
        session_id: u64,
    ) -> Result<String, MediaError> {
        let (sdp, offered) = sdp_plain::plain_offer(browser_offer, locals, session_id)?;
        self.pending_calls
            .insert(id, (browser_offer.to_owned(), offered));
        Ok(sdp)
    }

    /// The SIP side answered: picks the common codecs, builds the browser's transport and
    /// returns the SDP answer for the browser.
    pub fn bridge_answer(
        &mut self,
        id: PeerId,
        sip_answer: &str,
        events: mpsc::Sender<MediaEvent>,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<String, MediaError> {
        let Some((offer, offered)) = self.pending_calls.get(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let chosen = sdp_plain::negotiate(offered, sip_answer)?;
        let (peer, sdp) = Peer::bridged(offer, &chosen, &self.candidates, self.srtp, now)?;
        self.pending_calls.remove(&id);
        let legs: Vec<PlainLeg> = chosen.iter().map(PlainLeg::new).collect();
        for leg in &legs {
            self.by_plain.insert(leg.local, id);
        }
        self.insert(id, peer, Role::Bridged { legs }, events, now);
        self.drain(id, now, tx);
        Ok(sdp)
    }

    /// An incoming SIP call: returns the WebRTC offer for the browser, with the caller's
    /// codecs that can be bridged (`locals`: legs bound for the kinds of the SIP offer).
    pub fn incoming_offer(
        &mut self,
        id: PeerId,
        sip_offer: &str,
        locals: &[Leg],
        events: mpsc::Sender<MediaEvent>,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<String, MediaError> {
        let codecs: Vec<_> = sdp_plain::incoming_codecs(sip_offer)?
            .into_iter()
            .filter(|(k, _)| locals.iter().any(|(lk, _, _)| lk == k))
            .collect();
        if codecs.is_empty() {
            return Err(MediaError::NoCommonCodec);
        }
        let (peer, sdp) = Peer::offering(&codecs, &self.candidates, self.srtp, now)?;
        self.insert(id, peer, Role::Bridged { legs: Vec::new() }, events, now);
        self.pending_incoming
            .insert(id, (sip_offer.to_owned(), locals.to_vec()));
        self.drain(id, now, tx);
        Ok(sdp)
    }

    /// The browser answered an incoming call: returns the plain SDP answer for the caller.
    pub fn incoming_answer(
        &mut self,
        id: PeerId,
        browser_answer: &str,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<String, MediaError> {
        let Some((offer, locals)) = self.pending_incoming.get(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let session_id = u64::from(rand::random::<u32>());
        let (chosen, sip_answer) =
            sdp_plain::answer_incoming(offer, browser_answer, locals, session_id)?;
        let Some(entry) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        entry.peer.set_answer(browser_answer, now)?;
        for c in &chosen {
            entry
                .peer
                .set_send_payload_type(c.kind, c.webrtc_pt, c.codec.clock);
            self.by_plain.insert(c.local, id);
        }
        if let Role::Bridged { legs } = &mut entry.role {
            *legs = chosen.iter().map(PlainLeg::new).collect();
        }
        self.pending_incoming.remove(&id);
        self.drain(id, now, tx);
        Ok(sip_answer)
    }

    /// A re-INVITE from the SIP side (hold, unhold, new address): updates the legs and returns
    /// the plain SDP answer.
    pub fn sip_reoffer(&mut self, id: PeerId, sip_offer: &str) -> Result<String, MediaError> {
        let session_id = u64::from(rand::random::<u32>());
        self.update_legs(id, sip_offer, session_id)
    }

    /// Applies SIP-side SDP (a re-INVITE or the answer to ours) to a call's legs; returns the
    /// answer the gateway would give.
    pub(super) fn update_legs(
        &mut self,
        id: PeerId,
        sdp: &str,
        session_id: u64,
    ) -> Result<String, MediaError> {
        let Some(Entry {
            role: Role::Bridged { legs },
            ..
        }) = self.peers.get_mut(&id)
        else {
            return Err(MediaError::UnknownPeer);
        };
        let current: Vec<_> = legs.iter().map(|l| l.chosen.clone()).collect();
        let (updated, answer) = sdp_plain::reoffer_from_sip(&current, sdp, session_id)?;
        for c in &updated {
            if let Some(leg) = legs.iter_mut().find(|l| l.local == c.local) {
                leg.update(c);
            }
        }
        Ok(answer)
    }

    /// A new offer from the browser (`session-update`: hold, unhold): renegotiates its
    /// transport; returns the browser's answer and the plain re-INVITE SDP for SIP, whose
    /// direction follows the browser's.
    pub fn browser_reoffer(
        &mut self,
        id: PeerId,
        offer: &str,
        now: Instant,
        tx: &mut impl Transmit,
    ) -> Result<(String, String), MediaError> {
        let direction = sdp_plain::main_direction(offer)?;
        let Some(entry) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let Role::Bridged { legs } = &entry.role else {
            return Err(MediaError::UnknownPeer);
        };
        let current: Vec<_> = legs.iter().map(|l| l.chosen.clone()).collect();
        let answer = entry.peer.renegotiate(offer, now)?;
        let session_id = u64::from(rand::random::<u32>());
        let sip = sdp_plain::reoffer_to_sip(&current, direction, session_id);
        self.drain(id, now, tx);
        Ok((answer, sip))
    }

    /// The SIP side's answer to a re-INVITE the gateway sent.
    pub fn sip_reanswer(&mut self, id: PeerId, sip_answer: &str) -> Result<(), MediaError> {
        self.update_legs(id, sip_answer, 0).map(drop)
    }

    /// One datagram on a plain RTP leg's socket `local`, from the SIP side.
    pub fn handle_plain_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
        tx: &mut impl Transmit,
    ) {
        self.current = None;
        self.stats.datagrams_in += 1;
        let Some(&id) = self.by_plain.get(&local) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        self.current = Some(id);
        let Some(entry) = self.peers.get_mut(&id) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        let Role::Bridged { legs } = &mut entry.role else {
            return;
        };
        let Some(leg) = legs.iter_mut().find(|l| l.local == local) else {
            return;
        };
        let Some(packet) = leg.receive(from, data, now) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        if !entry.connected {
            return;
        }
        let Some(track) = entry.peer.out_track(leg.kind) else {
            return;
        };
        let Some(header) = leg.to_browser(&packet) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        let (Some(fast), Some(to)) = (entry.fast.ready(&entry.peer.pc), entry.media_addr) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        let out = &mut self.out_buf;
        match fast.rtp(leg.kind, &track, header, packet.payload, now, out) {
            Ok(()) if tx.send(self.local_addr, to, out) => self.stats.rtp_forwarded += 1,
            Ok(()) => self.stats.datagrams_dropped += 1,
            Err(e) => debug!(peer = id.0, error = %e, "bridge to browser failed"),
        }
    }

    /// A packet from a bridged browser goes to its plain leg (if it is a bridged peer).
    pub(super) fn bridge_to_plain(
        &mut self,
        id: PeerId,
        kind: Kind,
        packet: &rtc::rtp::Packet,
        tx: &mut impl Transmit,
    ) -> bool {
        let Some(Entry {
            role: Role::Bridged { legs },
            ..
        }) = self.peers.get_mut(&id)
        else {
            return false;
        };
        if let Some(leg) = legs.iter_mut().find(|l| l.kind == kind) {
            if let Some(to) = leg.to_sip(packet, &mut self.out_buf) {
                if tx.send(leg.local, to, &self.out_buf) {
                    self.stats.rtp_forwarded += 1;
                } else {
                    self.stats.datagrams_dropped += 1;
                }
            }
        }
        true
    }

    /// RTCP sender reports on the plain legs that are due.
    pub(super) fn send_plain_reports(&mut self, now: Instant, tx: &mut impl Transmit) {
        for entry in self.peers.values_mut() {
            if let Role::Bridged { legs } = &mut entry.role {
                for leg in legs.iter_mut() {
                    if let Some(to) = leg.report(now, &mut self.out_buf) {
                        tx.send(leg.local, to, &self.out_buf);
                    }
                }
            }
        }
    }
}
