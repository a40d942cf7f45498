//! The 1:1 calls of a core: a browser's transport bridged to plain RTP legs toward a SIP
//! endpoint (outgoing and incoming calls, re-INVITEs, the legs' datagrams and reports). One
//! leg is [`crate::bridge::plain`], their SDP [`crate::bridge::sdp`].

use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use tracing::debug;

use super::{Core, Role};
use crate::bridge::plain::{PlainLeg, Refused};
use crate::bridge::sdes::SdesMode;
use crate::bridge::sdp;
use crate::ids::{Kind, PeerId};
use crate::mix::codec::AudioCodec;
use crate::mix::transcode::Transcoder;
use crate::transport::peer::Peer;
use crate::transport::Sent;
use crate::MediaError;

/// What [`PlainLeg::open`] let through; a datagram its SRTP did not authenticate counts as
/// rejected.
pub(super) fn opened<'a>(
    stats: &mut super::EngineStats,
    result: Result<std::borrow::Cow<'a, [u8]>, Refused>,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    match result {
        Ok(data) => Some(data),
        Err(why) => {
            if why == Refused::Unauthentic {
                stats.datagrams_rejected += 1;
            }
            None
        }
    }
}

/// A plain leg to be: (kind, socket address, advertised address).
pub type Leg = (Kind, SocketAddr, SocketAddr);

/// A renegotiation that adds (or removes) media, between its offer and its answer.
#[derive(Debug)]
pub(super) enum Update {
    /// The browser's offer, offered to SIP as `offered` (the added kinds): waiting for the
    /// SIP side's answer to the re-INVITE.
    FromBrowser {
        offer: String,
        offered: Vec<sdp::Offered>,
    },
    /// The SIP side's re-INVITE offer, offered to the browser: waiting for its answer;
    /// `added`: the legs bound for the new kinds.
    FromSip { sip_offer: String, added: Vec<Leg> },
}

/// What a re-INVITE from the SIP side needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipUpdate {
    /// Answered here (same media): the plain SDP answer for the 200.
    Answer(String),
    /// New media: this WebRTC offer goes to the browser (`update {state: received}`).
    ToBrowser(String),
}

/// What a browser's new offer (`session-update`) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserUpdate {
    /// Same media: the browser's answer (sent when the re-INVITE succeeded) and the plain
    /// re-INVITE offer.
    Answered { answer: String, sip: String },
    /// Media added or removed: the plain re-INVITE offer; the browser's answer is made from
    /// the SIP side's.
    ToSip(String),
}

impl Core {
    /// Starts a bridged call: returns the plain RTP offer toward SIP for the browser's offer,
    /// with one local RTP address per media kind (`locals`, bound by the shell).
    pub fn bridge_offer(
        &mut self,
        id: PeerId,
        browser_offer: &str,
        locals: &[Leg],
        sdes: SdesMode,
    ) -> Result<String, MediaError> {
        let session_id = u64::from(self.rng.random::<u32>());
        let (sdp, offered) =
            sdp::plain_offer(browser_offer, locals, session_id, sdes, &mut self.rng)?;
        self.sdes.insert(id, sdes);
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
        // A codec the browser does not have (the phone took one offered for transcoding):
        // the browser's side of that leg is its Opus.
        let mut browser_view = chosen.clone();
        let mut transcoded = Vec::new();
        for (i, c) in chosen.iter().enumerate() {
            let Some(o) = offered.iter().find(|o| o.kind == c.kind) else {
                continue;
            };
            if !o.transcoded.contains(&c.codec.pt) {
                continue;
            }
            let opus = o.codecs.iter().find(|x| x.name == "opus");
            let sip = AudioCodec::from_rtpmap(&c.codec.name, c.codec.clock);
            let (Some(opus), Some(sip)) = (opus, sip) else {
                return Err(MediaError::NoCommonCodec);
            };
            browser_view[i].codec = opus.clone();
            browser_view[i].webrtc_pt = opus.pt;
            // DTMF of the browser is not carried across the transcoder.
            browser_view[i].dtmf = None;
            transcoded.push((i, opus.pt, sip));
        }
        let (peer, answer) = Peer::bridged(
            offer,
            &browser_view,
            &self.candidates,
            self.srtp,
            now,
            &mut self.rng,
        )?;
        self.pending_calls.remove(&id);
        let mut legs: Vec<PlainLeg> = chosen
            .iter()
            .map(|c| PlainLeg::new(c, self.rng.random()))
            .collect();
        for (i, browser_pt, sip) in transcoded {
            let seeds: [u32; 4] = self.rng.random();
            let t = Transcoder::new((AudioCodec::Opus, browser_pt), sip, self.opus, seeds)
                .map_err(|e| MediaError::Rtc(e.to_string()))?;
            tracing::info!(
                peer = id.0,
                sip = sip.name(),
                "call transcoded: Opus <-> {}",
                sip.name()
            );
            legs[i].transcode = Some(Box::new(t));
        }
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
        sdes: SdesMode,
    ) -> Result<String, MediaError> {
        self.sdes.insert(id, sdes);
        let codecs: Vec<_> = sdp::incoming_codecs(sip_offer, sdes)?
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
        let sdes = self.sdes_mode(id);
        let (chosen, sip_answer) = sdp::answer_incoming(
            offer,
            browser_answer,
            locals,
            session_id,
            sdes,
            &mut self.rng,
        )?;
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

    /// The kinds a new offer of either side adds to a call (the shell binds a leg for each
    /// before handing the offer to [`Core::sip_reoffer`] or [`Core::browser_reoffer`]).
    pub fn kinds_added(&self, id: PeerId, offer: &str) -> Result<Vec<Kind>, MediaError> {
        Ok(sdp::added_kinds(&self.chosen(id)?, offer)?)
    }

    /// The SDES-SRTP mode a call was made with.
    fn sdes_mode(&self, id: PeerId) -> SdesMode {
        self.sdes.get(&id).copied().unwrap_or_default()
    }

    /// The negotiated legs of a call.
    fn chosen(&self, id: PeerId) -> Result<Vec<sdp::Chosen>, MediaError> {
        match self.peers.get(&id).map(|s| &s.role) {
            Some(Role::Bridged { legs }) => Ok(legs.iter().map(|l| l.chosen.clone()).collect()),
            _ => Err(MediaError::UnknownPeer),
        }
    }

    /// A re-INVITE from the SIP side. One that keeps the call's media (hold, unhold, a new
    /// address, a session-timer refresh) updates the legs and is answered here: the browser's
    /// transport needs no change, and asking the user would only add a round trip. One that
    /// adds media (`added`: a leg bound per new kind) becomes a WebRTC offer for the browser;
    /// its answer comes to [`Core::browser_reanswer`].
    pub fn sip_reoffer(
        &mut self,
        now: Instant,
        id: PeerId,
        sip_offer: &str,
        added: &[Leg],
    ) -> Result<SipUpdate, MediaError> {
        if self.pending_updates.contains_key(&id) {
            return Err(MediaError::OfferPending);
        }
        let session_id = u64::from(self.rng.random::<u32>());
        if added.is_empty() {
            return self
                .update_legs(id, sip_offer, session_id)
                .map(SipUpdate::Answer);
        }
        let codecs: Vec<_> = sdp::incoming_codecs(sip_offer, self.sdes_mode(id))?
            .into_iter()
            .filter(|(k, _)| added.iter().any(|(lk, _, _)| lk == k))
            .collect();
        let Some(slot) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let offer = slot
            .transport
            .peer
            .offer_added(&codecs, now, &mut self.rng)?;
        self.pending_updates.insert(
            id,
            Update::FromSip {
                sip_offer: sip_offer.to_owned(),
                added: added.to_vec(),
            },
        );
        self.drain(id, now);
        Ok(SipUpdate::ToBrowser(offer))
    }

    /// The browser's answer to the offer [`Core::sip_reoffer`] made: returns the plain SDP
    /// answer for the re-INVITE (new media the browser refused is refused to SIP too).
    pub fn browser_reanswer(
        &mut self,
        now: Instant,
        id: PeerId,
        browser_answer: &str,
    ) -> Result<String, MediaError> {
        let Some(Update::FromSip { sip_offer, added }) = self.pending_updates.remove(&id) else {
            return Err(MediaError::NoOfferPending);
        };
        let session_id = u64::from(self.rng.random::<u32>());
        let sdes = self.sdes_mode(id);
        let new = match sdp::answer_incoming(
            &sip_offer,
            browser_answer,
            &added,
            session_id,
            sdes,
            &mut self.rng,
        ) {
            Ok((chosen, _)) => chosen,
            Err(sdp::SdpError::NoCommonCodec) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let Some(slot) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        slot.transport.peer.set_answer(browser_answer, now)?;
        for c in &new {
            slot.transport
                .peer
                .set_send_payload_type(c.kind, c.webrtc_pt, c.codec.clock);
        }
        self.add_legs(id, &new);
        let answer = self.update_legs(id, &sip_offer, session_id)?;
        self.drain(id, now);
        Ok(answer)
    }

    /// New legs of a renegotiated call (their sockets were bound with the offer).
    fn add_legs(&mut self, id: PeerId, chosen: &[sdp::Chosen]) {
        let Some(Role::Bridged { legs }) = self.peers.get_mut(&id).map(|s| &mut s.role) else {
            return;
        };
        for c in chosen {
            self.demux.add_leg(c.local, id);
            legs.push(PlainLeg::new(c, self.rng.random()));
        }
    }

    /// The SIP side's answer to a re-INVITE the gateway sent. When that re-INVITE offered
    /// media the browser added, returns the browser's answer, made now that the SIP side
    /// said which of it it takes.
    pub fn sip_reanswer(
        &mut self,
        now: Instant,
        id: PeerId,
        sip_answer: &str,
    ) -> Result<Option<String>, MediaError> {
        let pending = match self.pending_updates.remove(&id) {
            Some(Update::FromBrowser { offer, offered }) => Some((offer, offered)),
            Some(other) => {
                self.pending_updates.insert(id, other);
                None
            }
            None => None,
        };
        self.update_legs(id, sip_answer, 0)?;
        let Some((offer, offered)) = pending else {
            return Ok(None);
        };
        let new = match sdp::negotiate(&offered, sip_answer) {
            Ok(chosen) => chosen,
            Err(sdp::SdpError::NoCommonCodec) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let Some(slot) = self.peers.get_mut(&id) else {
            return Err(MediaError::UnknownPeer);
        };
        let answer = slot
            .transport
            .peer
            .renegotiate_adding(&offer, &new, now, &mut self.rng)?;
        self.add_legs(id, &new);
        self.drain(id, now);
        Ok(Some(answer))
    }

    /// A renegotiation that failed on the other side (the re-INVITE got an error, the
    /// browser did not answer): forgets it; the call goes on with its media as it was.
    pub fn cancel_update(&mut self, id: PeerId) {
        self.pending_updates.remove(&id);
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

    /// A new offer from the browser (`session-update`). One that keeps the call's media (hold,
    /// unhold) renegotiates its transport now: the browser's answer and the plain re-INVITE
    /// SDP, whose direction follows the browser's. One that adds media (`added`: a leg bound
    /// per new kind) or removes some is offered to SIP first; the browser's answer follows the
    /// SIP side's ([`Core::sip_reanswer`]).
    pub fn browser_reoffer(
        &mut self,
        now: Instant,
        id: PeerId,
        offer: &str,
        added: &[Leg],
    ) -> Result<BrowserUpdate, MediaError> {
        if self.pending_updates.contains_key(&id) {
            return Err(MediaError::OfferPending);
        }
        let direction = sdp::main_direction(offer)?;
        let session_id = u64::from(self.rng.random::<u32>());
        let current = self.chosen(id)?;
        let removed = sdp::removed_kinds(&current, offer)?;
        if added.is_empty() && removed.is_empty() {
            let Some(slot) = self.peers.get_mut(&id) else {
                return Err(MediaError::UnknownPeer);
            };
            let answer = slot.transport.peer.renegotiate(offer, now)?;
            let sip = sdp::reoffer_to_sip(&current, direction, session_id);
            self.drain(id, now);
            return Ok(BrowserUpdate::Answered { answer, sip });
        }
        let offered = if added.is_empty() {
            Vec::new()
        } else {
            let sdes = self.sdes_mode(id);
            sdp::plain_offer(offer, added, session_id, sdes, &mut self.rng)?.1
        };
        let sip = sdp::reoffer_changed(&current, &removed, &offered, direction, session_id);
        self.pending_updates.insert(
            id,
            Update::FromBrowser {
                offer: offer.to_owned(),
                offered,
            },
        );
        Ok(BrowserUpdate::ToSip(sip))
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
        if self.is_phone(id) {
            self.phone_datagram(now, id, from, data);
            return;
        }
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
        let Some(data) = opened(&mut self.stats, leg.open(data)) else {
            return;
        };
        let Some(packet) = leg.receive(from, &data, now) else {
            self.stats.datagrams_dropped += 1;
            return;
        };
        if !slot.transport.connected {
            return;
        }
        let sip_pt = leg.sip_payload_types().0;
        if let Some(t) = leg.transcode.as_mut() {
            if packet.payload_type != sip_pt {
                return;
            }
            t.to_browser.push(packet.payload);
            let pt = t.browser_pt;
            while let Some((seq, ts, payload)) = t.to_browser.next_frame() {
                let sent = slot.transport.send_rtp(
                    leg.kind,
                    (false, pt, seq, ts),
                    payload,
                    now,
                    self.local_addr,
                    &mut self.scratch,
                    &mut self.outbox,
                );
                self.stats.count_forward(sent);
            }
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
