//! Phones in rooms: SIP phones as audio participants of video rooms, both ways.
//!
//! * Dial-in: an INVITE to `<room>@<conference domain>` (the proxy routes the
//!   `conference_domains` to the gateway) joins room `room@domain`.
//! * Dial-out: `videoroom-invite` naming an address that no connection of this gateway has
//!   added (a desk phone, a number through the proxy; `room_dial_out`) calls it from the
//!   room, with the inviting account's identity and credentials; once answered it joins. The
//!   inviter's session is told how it goes: `invite-status` `progress` (the INVITE sent, each
//!   1xx), `success` (answered) or `failed` with the SIP code and reason (Appendix A).
//!
//! Either way the phone is a publisher of type `sip` (`publishers-joined`, its display name
//! from the From or To header); browsers attach its feed as any other (audio only) and get
//! its voice in Opus from the room's mix, and the phone hears the mix of everyone else in its
//! own codec ([`media::mix`]). Its BYE leaves the room (`publishers-left`); the admin API's
//! participant removal and the gateway's shutdown (its rooms end) hang it up. A room of
//! phones alone goes on: phones may meet without a browser.
//!
//! One task serves every room's phones: it only joins and leaves (a few engine round trips
//! and SIP transactions); the media runs on the room's shard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use signaling::sip::{self, CallEvent, CallUpdate, IncomingEvent, IncomingInvite, IncomingUpdate};
use tokio::sync::mpsc;
use tracing::{info, warn};

use signaling::sylkrtc::VideoroomEvent;

use crate::rooms::{mix_id, JoinRefused, Member, Participant};
use crate::server::App;

/// INVITEs, orders and call events waiting for the task.
pub const QUEUE: usize = 256;

/// A room calls a phone.
pub struct DialOut {
    pub room: String,
    /// The inviting account: the call's From and its digest credentials.
    pub account: String,
    pub from: sip::Aor,
    pub display_name: Option<String>,
    pub user_agent: Option<String>,
    pub ha1: sip::Ha1,
    /// Whom to call (an AOR or SIP URI).
    pub to: String,
    /// The inviter's publisher session: it gets the call's `invite-status` (Appendix A).
    pub inviter: String,
}

/// What the task is asked to do.
pub enum Order {
    DialOut(Box<DialOut>),
    /// Hang up the phone of this publisher session.
    Hangup(String),
    /// The gateway is stopping: hang up every phone.
    HangupAll,
}

/// The application's handle on the phones' task.
pub struct Phones {
    tx: mpsc::Sender<Order>,
    rx: Mutex<Option<mpsc::Receiver<Order>>>,
}

impl Default for Phones {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Phones {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl Phones {
    /// Asks the task to call a phone from a room; false when its queue is full.
    pub fn dial_out(&self, d: DialOut) -> bool {
        self.tx.try_send(Order::DialOut(Box::new(d))).is_ok()
    }

    /// The gateway is stopping (its rooms end): every phone in a room is hung up.
    pub fn hang_up_all(&self) {
        if self.tx.try_send(Order::HangupAll).is_err() {
            warn!("phones not hung up: their queue is full");
        }
    }

    /// The handle a phone participant keeps (to be hung up by the admin API).
    fn handle(&self, session: &str) -> PhoneHandle {
        PhoneHandle {
            session: session.to_string(),
            orders: self.tx.clone(),
        }
    }
}

/// Hangs up one phone of a room.
#[derive(Clone)]
pub struct PhoneHandle {
    session: String,
    orders: mpsc::Sender<Order>,
}

impl PhoneHandle {
    /// Ends the phone's call (BYE); its end takes it out of the room.
    pub fn hangup(&self) -> bool {
        self.orders
            .try_send(Order::Hangup(self.session.clone()))
            .is_ok()
    }
}

/// A phone's call, either way.
enum Call {
    In(sip::IncomingCall),
    Out(sip::OutgoingCall),
}

/// A phone in a room, or being called from one.
struct Phone {
    room: String,
    session: String,
    peer: media::PeerId,
    call: Call,
    /// Our SDP (the answer to its INVITE, or our offer): what a re-INVITE that keeps the
    /// media gets.
    sdp: String,
    /// It is a participant (a dial-out joins when answered).
    joined: bool,
    /// A dial-out: whom it calls and who asked (told its `invite-status`).
    invited: Option<(String, String)>,
}

struct State {
    /// Where the media engine tells about the phones (their levels, muted).
    media: mpsc::Sender<media::MediaEvent>,
    /// By SIP Call-ID (dial-in) or our call id (dial-out).
    incoming: HashMap<String, Phone>,
    outgoing: HashMap<u64, Phone>,
    next_id: u64,
}

/// Serves the INVITEs to rooms, the dial-outs and the ends of those calls, until the
/// application goes.
pub async fn serve(app: Arc<App>, mut invites: mpsc::Receiver<IncomingUpdate>) {
    let Some(mut orders) = app
        .phones
        .rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    else {
        return;
    };
    let (calls_tx, mut calls) = mpsc::channel::<CallUpdate>(QUEUE);
    let (media_tx, mut media) = mpsc::channel::<media::MediaEvent>(QUEUE);
    let mut state = State {
        media: media_tx,
        incoming: HashMap::new(),
        outgoing: HashMap::new(),
        next_id: 0,
    };
    loop {
        tokio::select! {
            Some(event) = media.recv() => media_event(&app, &state, event),
            Some(update) = invites.recv() => dial_in_event(&app, &mut state, update).await,
            Some(update) = calls.recv() => dial_out_event(&app, &mut state, update).await,
            order = orders.recv() => match order {
                Some(Order::DialOut(d)) => dial_out(&app, &mut state, *d, &calls_tx).await,
                Some(Order::Hangup(session)) => hang_up(&mut state, &session),
                Some(Order::HangupAll) => {
                    let sessions: Vec<String> = state
                        .incoming
                        .values()
                        .chain(state.outgoing.values())
                        .map(|p| p.session.clone())
                        .collect();
                    for session in sessions {
                        hang_up(&mut state, &session);
                    }
                }
                None => return,
            },
        }
    }
}

/// A phone's level or muted state, as a publisher's: `conference-audio-levels`, the speaker
/// order, `publisher-updated`.
fn media_event(app: &Arc<App>, state: &State, event: media::MediaEvent) {
    let Some(phone) = state
        .incoming
        .values()
        .chain(state.outgoing.values())
        .find(|p| p.peer == event.peer && p.joined)
    else {
        return;
    };
    match event.event {
        media::PeerEvent::AudioLevel(level) => {
            app.rooms().audio_level(&phone.room, &phone.session, level)
        }
        media::PeerEvent::Muted(muted) => app.rooms().set_muted(&phone.room, &phone.session, muted),
        media::PeerEvent::Connected | media::PeerEvent::Closed(_) => {}
    }
}

fn hang_up(state: &mut State, session: &str) {
    let phones = state
        .incoming
        .values_mut()
        .chain(state.outgoing.values_mut());
    if let Some(phone) = phones.into_iter().find(|p| p.session == session) {
        info!(room = %phone.room, %session, "hanging up a phone in a room");
        match &mut phone.call {
            Call::In(c) => c.hangup(),
            Call::Out(c) => c.hangup(),
        }
    }
}

async fn dial_in_event(app: &Arc<App>, state: &mut State, update: IncomingUpdate) {
    match update.event {
        IncomingEvent::Invite(invite) => {
            if let Some(phone) = dial_in(app, &state.media, &update.call_id, *invite).await {
                state.incoming.insert(update.call_id, phone);
            }
        }
        IncomingEvent::Ended { reason, .. } => {
            if let Some(phone) = state.incoming.remove(&update.call_id) {
                leave(app, phone, &reason).await;
            }
        }
        IncomingEvent::Reoffer(r) => match state.incoming.get(&update.call_id) {
            // Hold, a session-timer refresh: the leg and the mix go on as they are.
            Some(phone) => r.answer(phone.sdp.clone()),
            None => r.reject(481),
        },
        IncomingEvent::Message(_)
        | IncomingEvent::Reanswered { .. }
        | IncomingEvent::MessageSent { .. } => {}
    }
}

/// The caller's address of record (`user@host`) from its From URI.
fn caller_aor(from_uri: &str) -> String {
    let rest = from_uri
        .strip_prefix("sip:")
        .or_else(|| from_uri.strip_prefix("sips:"))
        .unwrap_or(from_uri);
    rest.split([';', '?', '>'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

/// A place in room `room` for a phone: its session and peer on the room's shard, or the SIP
/// status refusing it.
fn reserve(app: &Arc<App>, room: &str, who: &str) -> Result<(String, media::PeerId), u16> {
    if app.draining() {
        return Err(503);
    }
    if app
        .config
        .room_settings(room)
        .is_some_and(|s| !s.allows(who))
    {
        info!(%room, phone = %who, "phone refused by the room's access policy (403)");
        return Err(403);
    }
    let session = crate::videoroom::uuid4();
    let engine = app.engine.clone();
    let reserved = app.rooms().reserve(
        &session,
        room,
        app.config.limits.max_room_participants,
        || engine.place_room(),
    );
    match reserved {
        Ok(shard) => Ok((session, engine.new_peer_id_on(shard))),
        Err(JoinRefused::Full { max }) => {
            info!(%room, phone = %who, max, "room full: phone refused (486)");
            Err(486)
        }
        Err(JoinRefused::InUse) => Err(500),
    }
}

/// The phone becomes a participant of its room (`publishers-joined` to the others).
fn join(app: &Arc<App>, phone: &Phone, who: String, display_name: Option<String>) {
    let video = !app
        .config
        .room_settings(&phone.room)
        .is_some_and(|s| s.video_disabled);
    let participant = Participant {
        session: phone.session.clone(),
        member: Member::Phone(app.phones.handle(&phone.session)),
        account: who,
        display_name,
        peer: phone.peer,
        attached: Default::default(),
        muted: false,
        spoke: None,
    };
    app.rooms().join(&phone.room, true, video, participant);
}

async fn dial_in(
    app: &Arc<App>,
    media: &mpsc::Sender<media::MediaEvent>,
    call_id: &str,
    invite: IncomingInvite,
) -> Option<Phone> {
    let room = invite.account.clone();
    let caller = caller_aor(&invite.from_uri);
    let Some(sdp) = invite.sdp.clone() else {
        invite.call.reject(488);
        return None;
    };
    let (session, peer) = match reserve(app, &room, &caller) {
        Ok(place) => place,
        Err(code) => {
            invite.call.reject(code);
            return None;
        }
    };
    let sdes = app.config.sdes_mode(&room, Some(&caller));
    let joined = app
        .engine
        .phone_join(peer, mix_id(&room), sdp, sdes, media.clone())
        .await;
    let answer = match joined {
        Ok(answer) => answer,
        Err(e) => {
            warn!(%room, %caller, %call_id, error = %e, "phone refused: its offer is unusable (488)");
            app.rooms().unreserve(&session);
            app.engine.close(peer).await;
            invite.call.reject(488);
            return None;
        }
    };
    invite.call.answer(answer.clone());
    info!(%room, %caller, %call_id, %session, "phone joined the room");
    let phone = Phone {
        room,
        session,
        peer,
        call: Call::In(invite.call),
        sdp: answer,
        joined: true,
        invited: None,
    };
    join(app, &phone, caller, invite.display_name);
    Some(phone)
}

/// Tells the inviter of a dial-out how it goes (`invite-status`, Appendix A): `progress`,
/// `success` or `failed` with the SIP code and reason.
fn invite_status(
    app: &Arc<App>,
    room: &str,
    (to, inviter): (&str, &str),
    state: &str,
    code: Option<u16>,
    reason: Option<String>,
) {
    app.rooms().tell(
        room,
        inviter,
        VideoroomEvent::InviteStatus {
            participant: to.to_string(),
            state: state.to_string(),
            code: code.map(i64::from),
            reason,
        },
    );
}

/// `<code> <reason>` of a SIP status line, split.
fn status(line: &str) -> (Option<u16>, Option<String>) {
    match line.split_once(' ') {
        Some((code, reason)) => (code.parse().ok(), Some(reason.to_string())),
        None => (line.parse().ok(), None),
    }
}

async fn dial_out(
    app: &Arc<App>,
    state: &mut State,
    d: DialOut,
    events: &mpsc::Sender<CallUpdate>,
) {
    let who = (d.to.as_str(), d.inviter.as_str());
    let failed = |code: u16, reason: &str| {
        invite_status(
            app,
            &d.room,
            who,
            "failed",
            Some(code),
            Some(reason.to_string()),
        );
    };
    if let Some(cluster) = app.cluster.get() {
        // Its `conference-invite` went to that node's connections over the bus.
        if cluster.online_elsewhere(&d.to).await {
            info!(room = %d.room, to = %d.to, "dial-out not made: the invitee is online on another node");
            return;
        }
    }
    let Some(to) = sip::Aor::parse(&d.to) else {
        info!(room = %d.room, to = %d.to, "dial-out refused: not a SIP address");
        failed(400, "Bad Request");
        return;
    };
    let (session, peer) = match reserve(app, &d.room, &d.to) {
        Ok(place) => place,
        Err(code) => {
            info!(room = %d.room, to = %d.to, code, "dial-out not made");
            failed(code, if code == 486 { "Busy Here" } else { "Not Made" });
            return;
        }
    };
    let give_back = |app: &Arc<App>| app.rooms().unreserve(&session);
    let sdes = app.config.sdes_mode(&d.account, Some(&d.to));
    let offered = app
        .engine
        .phone_offer(peer, mix_id(&d.room), sdes, state.media.clone())
        .await;
    let offer = match offered {
        Ok(offer) => offer,
        Err(e) => {
            warn!(room = %d.room, to = %d.to, error = %e, "dial-out failed: no RTP leg");
            give_back(app);
            app.engine.close(peer).await;
            failed(500, "Server Internal Error");
            return;
        }
    };
    let target = match app.sip.resolve(&to).await {
        Ok(t) => t,
        Err(e) => {
            info!(room = %d.room, to = %d.to, error = %e, "dial-out failed: cannot resolve");
            give_back(app);
            app.engine.close(peer).await;
            failed(404, "Not Found");
            return;
        }
    };
    let request = sip::CallRequest {
        account: d.account.clone(),
        from: d.from,
        display_name: d.display_name,
        user_agent: d.user_agent,
        ha1: d.ha1,
        to,
        sdp: offer.clone(),
        headers: Vec::new(),
    };
    let id = state.next_id;
    state.next_id += 1;
    match app.sip.call(request, target, id, events.clone()).await {
        Ok(call) => {
            info!(room = %d.room, to = %d.to, account = %d.account, %session, call_id = call.call_id(), "calling a phone into the room");
            state.outgoing.insert(
                id,
                Phone {
                    room: d.room.clone(),
                    session,
                    peer,
                    call: Call::Out(call),
                    sdp: offer,
                    joined: false,
                    invited: Some((d.to.clone(), d.inviter.clone())),
                },
            );
            invite_status(app, &d.room, who, "progress", None, None);
        }
        Err(e) => {
            warn!(room = %d.room, to = %d.to, error = %e, "dial-out failed: INVITE not sent");
            give_back(app);
            app.engine.close(peer).await;
            let (code, reason) = status(&e.to_string());
            failed(
                code.unwrap_or(500),
                reason.as_deref().unwrap_or("Server Internal Error"),
            );
        }
    }
}

async fn dial_out_event(app: &Arc<App>, state: &mut State, update: CallUpdate) {
    match update.event {
        CallEvent::Answered { sdp, headers } => {
            let Some(phone) = state.outgoing.get_mut(&update.id) else {
                return;
            };
            let joined = match sdp {
                Some(sdp) => app.engine.phone_answered(phone.peer, sdp).await,
                None => Err(media::MediaError::BadSdp("no SDP in the answer".into())),
            };
            match joined {
                Ok(()) => {
                    phone.joined = true;
                    if let Some((to, inviter)) = &phone.invited {
                        let who = (to.as_str(), inviter.as_str());
                        let ok = Some("OK".to_string());
                        invite_status(app, &phone.room, who, "success", Some(200), ok);
                    }
                    let (who, name) = answered_by(&headers);
                    info!(room = %phone.room, session = %phone.session, phone = %who, "called phone joined the room");
                    join(app, phone, who, name);
                }
                Err(e) => {
                    warn!(room = %phone.room, error = %e, "called phone's answer unusable: hanging up");
                    if let Call::Out(c) = &mut phone.call {
                        c.hangup();
                    }
                }
            }
        }
        CallEvent::Ended { reason } => {
            if let Some(phone) = state.outgoing.remove(&update.id) {
                if let (false, Some((to, inviter))) = (phone.joined, &phone.invited) {
                    let (code, text) = status(&reason);
                    let who = (to.as_str(), inviter.as_str());
                    invite_status(app, &phone.room, who, "failed", code, text);
                }
                leave(app, phone, &reason).await;
            }
        }
        CallEvent::Reoffer(r) => match state.outgoing.get(&update.id) {
            Some(phone) => r.answer(phone.sdp.clone()),
            None => r.reject(481),
        },
        CallEvent::Progress { code, reason, .. } => {
            if let Some(phone) = state.outgoing.get(&update.id) {
                info!(room = %phone.room, session = %phone.session, code, %reason, "called phone: progress");
                if let Some((to, inviter)) = &phone.invited {
                    let who = (to.as_str(), inviter.as_str());
                    invite_status(app, &phone.room, who, "progress", Some(code), Some(reason));
                }
            }
        }
        CallEvent::Reanswered { .. } | CallEvent::Message(_) | CallEvent::MessageSent { .. } => {}
    }
}

/// Who answered a dial-out, from the 2xx's To header: (`user@host`, display name).
fn answered_by(headers: &[(String, String)]) -> (String, Option<String>) {
    let to = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("to") || n == "t")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let (name, uri) = match to.split_once('<') {
        Some((name, rest)) => (name.trim().trim_matches('"'), rest),
        None => ("", to),
    };
    let name = (!name.is_empty()).then(|| name.to_string());
    (caller_aor(uri.trim()), name)
}

async fn leave(app: &Arc<App>, phone: Phone, reason: &str) {
    app.engine.close(phone.peer).await;
    if !phone.joined {
        info!(room = %phone.room, session = %phone.session, %reason, "called phone did not join");
        app.rooms().unreserve(&phone.session);
        return;
    }
    info!(room = %phone.room, session = %phone.session, %reason, "phone left the room");
    let left = app.rooms().leave(&phone.room, &phone.session);
    if let Some(room) = left.and_then(|l| l.destroyed) {
        crate::filesharing::room_destroyed(app, room);
    }
}

#[cfg(test)]
mod tests {
    use super::{answered_by, caller_aor};

    #[test]
    fn the_caller_is_its_from_uri_without_scheme_and_parameters() {
        assert_eq!(
            caller_aor("sip:bob@127.0.0.1;transport=udp"),
            "bob@127.0.0.1"
        );
        assert_eq!(
            caller_aor("sips:+3120@pstn.example.com"),
            "+3120@pstn.example.com"
        );
        assert_eq!(caller_aor("tel:+3120"), "tel:+3120");
    }

    #[test]
    fn a_status_line_splits_into_code_and_reason() {
        use super::status;
        assert_eq!(
            status("486 Busy Here"),
            (Some(486), Some("Busy Here".into()))
        );
        assert_eq!(status("408"), (Some(408), None));
        assert_eq!(status("no code"), (None, Some("code".into())));
    }

    #[test]
    fn who_answered_is_read_from_the_to_header() {
        let h = |v: &str| vec![("To".to_string(), v.to_string())];
        assert_eq!(
            answered_by(&h("\"Desk 4\" <sip:desk4@pbx.example.com>;tag=9")),
            ("desk4@pbx.example.com".into(), Some("Desk 4".into()))
        );
        assert_eq!(
            answered_by(&h("sip:bob@127.0.0.1;tag=1")),
            ("bob@127.0.0.1".into(), None)
        );
        assert_eq!(answered_by(&[]), (String::new(), None));
    }
}
