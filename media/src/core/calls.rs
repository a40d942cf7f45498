//! The 1:1 calls of a core: a browser's transport bridged to plain RTP legs toward a SIP
//! endpoint (outgoing and incoming calls, re-INVITEs, the legs' datagrams and reports). One
//! leg is [`crate::bridge::plain`], their SDP [`crate::bridge::sdp`].

use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use tracing::debug;

use super::{Core, Role};
use crate::bridge::plain::PlainLeg;
use crate::bridge::sdp;
use crate::ids::{Kind, PeerId};
use crate::transport::peer::Peer;
use crate::transport::Sent;
use crate::MediaError;

/// A plain leg to be: (kind, socket address, advertised address).
pub type Leg = (Kind, SocketAddr, SocketAddr);

impl Core {
    /// Starts a bridged call: returns the plain RTP offer toward SIP for the browser's offer,
    /// with one local RTP address per media kind (`locals`, bound by the shell).
    pub fn bridge_offer(
        &mut self,
        id: PeerId,
        browser_offer: &str,
        locals: &[Leg],
    ) -> Result<String, MediaError> {
        let session_id = u64::from(self.rng.random::<u32>());
        let (sdp, offered) = sdp::plain_offer(browser_offer, locals, session_id)?;
        self.pending_calls
            .insert(id, (browser_offer.to_owned(), offered));
        Ok(sdp)
    }

    /// The SIP side answered: picks the common codecs, builds the browser's transport and
    /// returns the SDP answer for the browser.
    pub fn bridge_answer(
        &mut self,
        now: Instant,
        id: PeerId,
        sip_answer: &str,
    ) -> Result<String, MediaError> {
        let Some((offer, offered)) = self.pending_calls.get(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let chosen = sdp::negotiate(offered, sip_answer)?;
        let (peer, answer) = Peer::bridged(
            offer,
            &chosen,
            &self.candidates,
            self.srtp,
            now,
            &mut self.rng,
        )?;
        self.pending_calls.remove(&id);
        let legs: Vec<PlainLeg> = chosen
            .iter()
            .map(|c| PlainLeg::new(c, self.rng.random()))
            .collect();
        self.insert(id, peer, Role::Bridged { legs }, now, true);
        Ok(answer)
    }

    /// An incoming SIP call: returns the WebRTC offer for the browser, with the caller's
    /// codecs that can be bridged (`locals`: legs bound for the kinds of the SIP offer).
    pub fn incoming_offer(
        &mut self,
        now: Instant,
        id: PeerId,
        sip_offer: &str,
        locals: &[Leg],
    ) -> Result<String, MediaError> {
        let codecs: Vec<_> = sdp::incoming_codecs(sip_offer)?
            .into_iter()
            .filter(|(k, _)| locals.iter().any(|(lk, _, _)| lk == k))
            .collect();
        if codecs.is_empty() {
            return Err(MediaError::NoCommonCodec);
        }
        let (peer, offer) =
            Peer::offering(&codecs, &self.candidates, self.srtp, now, &mut self.rng)?;
        self.pending_incoming
            .insert(id, (sip_offer.to_owned(), locals.to_vec()));
        self.insert(id, peer, Role::Bridged { legs: Vec::new() }, now, false);
        Ok(offer)
    }

    /// The browser answered an incoming call: returns the plain SDP answer for the caller.
    pub fn incoming_answer(
        &mut self,
        now: Instant,
        id: PeerId,
        browser_answer: &str,
    ) -> Result<String, MediaError> {
        let Some((offer, locals)) = self.pending_incoming.get(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let session_id = u64::from(self.rng.random::<u32>());
        let (chosen, sip_answer) = sdp::answer_incoming(offer, browser_answer, locals, session_id)?;
        let Some(slot) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        slot.transport.peer.set_answer(browser_answer, now)?;
        for c in &chosen {
            slot.transport
                .peer
                .set_send_payload_type(c.kind, c.webrtc_pt, c.codec.clock);
            self.demux.add_leg(c.local, id);
        }
        if let Role::Bridged { legs } = &mut slot.role {
            *legs = chosen
                .iter()
                .map(|c| PlainLeg::new(c, self.rng.random()))
                .collect();
        }
        self.pending_incoming.remove(&id);
        self.remote_known(id, now);
        self.drain(id, now);
        Ok(sip_answer)
    }

    /// A re-INVITE from the SIP side (hold, unhold, new address): updates the legs and returns
    /// the plain SDP answer.
    pub fn sip_reoffer(&mut self, id: PeerId, sip_offer: &str) -> Result<String, MediaError> {
        let session_id = u64::from(self.rng.random::<u32>());
        self.update_legs(id, sip_offer, session_id)
    }

    /// The SIP side's answer to a re-INVITE the gateway sent.
    pub fn sip_reanswer(&mut self, id: PeerId, sip_answer: &str) -> Result<(), MediaError> {
        self.update_legs(id, sip_answer, 0).map(drop)
    }

    /// Applies SIP-side SDP (a re-INVITE or the answer to ours) to a call's legs; returns the
    /// answer the gateway would give.
    fn update_legs(
        &mut self,
        id: PeerId,
        sdp: &str,
        session_id: u64,
    ) -> Result<String, MediaError> {
        let Some(Role::Bridged { legs }) = self.peers.get_mut(&id).map(|s| &mut s.role) else {
            return Err(MediaError::UnknownPeer);
        };
        let current: Vec<_> = legs.iter().map(|l| l.chosen.clone()).collect();
        let (updated, answer) = sdp::reoffer_from_sip(&current, sdp, session_id)?;
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
        now: Instant,
        id: PeerId,
        offer: &str,
    ) -> Result<(String, String), MediaError> {
        let direction = sdp::main_direction(offer)?;
        let session_id = u64::from(self.rng.random::<u32>());
        let Some(slot) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let Role::Bridged { legs } = &slot.role else {
            return Err(MediaError::UnknownPeer);
        };
        let current: Vec<_> = legs.iter().map(|l| l.chosen.clone()).collect();
        let answer = slot.transport.peer.renegotiate(offer, now)?;
        let sip = sdp::reoffer_to_sip(&current, direction, session_id);
        self.drain(id, now);
        Ok((answer, sip))
    }

    /// One datagram on a plain RTP leg's socket `local`, from the SIP side.
    pub(super) fn handle_plain_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) {
        let Some(id) = self.demux.leg(local) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        self.current = Some(id);
        let Some(slot) = self.peers.get_mut(&id) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        let Role::Bridged { legs } = &mut slot.role else {
            return;
        };
        let Some(leg) = legs.iter_mut().find(|l| l.local == local) else {
            return;
        };
        let Some(packet) = leg.receive(from, data, now) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        if !slot.transport.connected {
            return;
        }
        let Some(header) = leg.to_browser(&packet) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        let kind = leg.kind;
        let sent = slot.transport.send_rtp(
            kind,
            header,
            packet.payload,
            now,
            self.local_addr,
            &mut self.scratch,
            &mut self.outbox,
        );
        if sent == Sent::Yes {
            self.stats.rtp_forwarded += 1;
        } else {
            debug!(peer = id.0, "bridge to browser: nothing sent");
            self.stats.datagrams_dropped += 1;
        }
    }

    /// RTCP sender reports on the plain legs that are due.
    pub(super) fn send_plain_reports(&mut self, now: Instant) {
        for slot in self.peers.values_mut() {
            if let Role::Bridged { legs } = &mut slot.role {
                for leg in legs.iter_mut() {
                    if let Some(to) = leg.report(now, &self.clock, &mut self.scratch) {
                        self.outbox.push(leg.local, to, &self.scratch);
                    }
                }
            }
        }
    }
}
