//! 1:1 calls between a connection's browser and SIP (§2.3, §3.3): this file holds the call
//! table and what both directions share (trickle, terminate, DTMF, re-INVITEs both ways,
//! in-dialog messages, media events); [`outgoing`] has `session-create` and the events of our
//! INVITE, [`incoming`] the INVITEs for the connection's bindings and `session-answer`.
//!
//! A call joins two legs: the browser's WebRTC transport in the media engine (its plain RTP
//! side is offered to SIP by `bridge_offer`, the SIP answer completes it with `bridge_answer`)
//! and the SIP dialog of [`signaling::sip::call`]. Events of both come back through this
//! connection's task, so they are ordered with its requests:
//!
//! ```text
//! session-create ──▶ ack, progress
//!   180 ──▶ ringing          other 1xx (not 100) ──▶ proceeding {code}
//!   1xx with SDP ──▶ early-media {sdp, call_id}
//!   2xx ──▶ accepted {sdp, call_id, headers?}   (after early media: accepted, no sdp)
//!       └─ no codec in common ──▶ (ACK) BYE, terminated "488 Not Acceptable Here"
//!   browser transport up ──▶ established
//!   3xx-6xx ──▶ terminated "<code> <reason>"
//! session-terminate ──▶ CANCEL (before the answer) or BYE, ack, later terminated
//! far end's BYE ──▶ terminated "200 Received BYE"
//! browser transport closed (consent expired...) ──▶ BYE, terminated "<engine's reason>"
//! ```
//!
//! Termination reasons are those SylkServer relays from Janus (Sofia-SIP's texts): the final
//! response `"<code> <reason>"`, `"487 Request Terminated"` after our CANCEL, `"200 to BYE"`
//! after our BYE, `"200 Received BYE"` after the far end's.

use std::collections::HashMap;

use media::{MediaEvent, PeerEvent, PeerId};
use serde_json::{Map, Value};
use signaling::sip::{self, CallUpdate, IncomingUpdate};
use signaling::sylkrtc::{
    self, CallState, Event, IceCandidate, Identity, SessionEvent, UpdateState,
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::connection::{ApiError, Connection};

mod incoming;
mod outgoing;

/// Call updates queued for one connection (a few per call); a call task waits when full.
const CALL_EVENTS: usize = 64;
/// Media events of call peers queued for one connection (connected/closed per call).
const CALL_MEDIA_EVENTS: usize = 64;

/// The server-side states of §2.3 an outgoing call goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    /// An incoming call not answered yet.
    Connecting,
    Progress,
    EarlyMedia,
    Accepted,
    Established,
    /// The client hung up; `terminated` follows when the SIP side is done.
    Terminated,
}

/// Every state's name, as [`CallSummary::state`] and the metrics give it.
pub const STATES: [&str; 6] = [
    "connecting",
    "progress",
    "early_media",
    "accepted",
    "established",
    "terminated",
];

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Progress => "progress",
            State::EarlyMedia => "early_media",
            State::Accepted => "accepted",
            State::Established => "established",
            State::Terminated => "terminated",
        }
    }
}

/// The SIP side of a call.
enum Leg {
    Out(sip::OutgoingCall),
    In(sip::IncomingCall),
}

impl Leg {
    fn hangup(&mut self) {
        match self {
            Leg::Out(c) => c.hangup(),
            Leg::In(c) => c.hangup(),
        }
    }
}

/// A re-INVITE between its offer and its answer.
enum Updating {
    /// Our re-INVITE for the browser's `session-update` offer is out (`local-updating`). The
    /// browser's answer is made already when the media stay the same; when they change it is
    /// made from the SIP side's answer.
    Local(Option<String>),
    /// The far end's re-INVITE changes the media: its offer went to the browser as `update
    /// {state: received}` and waits for the browser's answer (`remote-updating`).
    Remote(Box<sip::Reinvite>),
}

impl Updating {
    fn state(&self) -> &'static str {
        match self {
            Updating::Local(_) => "local-updating",
            Updating::Remote(_) => "remote-updating",
        }
    }
}

/// The duration of a DTMF tone sent as INFO when the request gives none (Janus's default).
const DTMF_DURATION_MS: u32 = 100;

/// One call of this connection.
struct CallSession {
    peer: PeerId,
    sip_id: u64,
    call: Leg,
    call_id: String,
    /// The caller of an incoming call (for `missed-session`), with the account it came for.
    incoming: Option<(String, Identity)>,
    /// A renegotiation under way (§3.3 `update`), either way.
    updating: Option<Updating>,
    state: State,
    /// `bridge_answer` done: the browser's transport exists in the engine.
    bridged: bool,
    /// Candidates trickled before the browser's transport exists.
    candidates: Vec<IceCandidate>,
    /// The account's `incoming_header_prefixes`: 2xx headers starting with one of them go
    /// into `accepted.headers`.
    header_prefixes: Vec<String>,
    /// The account and the far end (what the admin API lists).
    account: String,
    remote: String,
    started: std::time::Instant,
    /// Counts the call among the gateway's live calls until it is dropped.
    live: crate::server::LiveCall,
}

impl CallSession {
    /// Moves the call to `state` (and its count among the live calls by state).
    fn set_state(&mut self, state: State) {
        self.state = state;
        self.live.set(state as usize);
    }

    /// Counts the call among the ended ones (`outcome`: a fixed label).
    fn count_ended(&self, outcome: &'static str) {
        let direction = if self.incoming.is_some() {
            "incoming"
        } else {
            "outgoing"
        };
        metrics::counter!(crate::metrics::names::CALLS_ENDED,
            "direction" => direction, "outcome" => outcome)
        .increment(1);
    }
}

/// A call as the admin API lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallSummary {
    pub session: String,
    pub account: String,
    pub remote: String,
    pub direction: &'static str,
    pub state: &'static str,
    pub seconds: u64,
}

/// The calls of one connection, and the channels their events come back on.
pub struct Calls {
    sessions: HashMap<String, CallSession>,
    by_sip: HashMap<u64, String>,
    by_peer: HashMap<PeerId, String>,
    next_id: u64,
    sip_tx: mpsc::Sender<CallUpdate>,
    pub(crate) sip_rx: mpsc::Receiver<CallUpdate>,
    media_tx: mpsc::Sender<MediaEvent>,
    pub(crate) media_rx: mpsc::Receiver<MediaEvent>,
    /// Incoming calls for this connection's bindings, and their ends.
    pub(crate) incoming_tx: mpsc::Sender<IncomingUpdate>,
    pub(crate) incoming_rx: mpsc::Receiver<IncomingUpdate>,
    by_call_id: HashMap<String, String>,
}

impl Default for Calls {
    fn default() -> Self {
        let (sip_tx, sip_rx) = mpsc::channel(CALL_EVENTS);
        let (media_tx, media_rx) = mpsc::channel(CALL_MEDIA_EVENTS);
        let (incoming_tx, incoming_rx) = mpsc::channel(CALL_EVENTS);
        Calls {
            incoming_tx,
            incoming_rx,
            by_call_id: HashMap::new(),
            sessions: HashMap::new(),
            by_sip: HashMap::new(),
            by_peer: HashMap::new(),
            next_id: 1,
            sip_tx,
            sip_rx,
            media_tx,
            media_rx,
        }
    }
}

impl Calls {
    pub fn contains(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    /// The calls of the connection (each holds at most two RTP ports).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The call `id`, or the protocol's `Unknown session <id>`.
    fn session_mut(&mut self, id: &str) -> Result<&mut CallSession, ApiError> {
        self.sessions.get_mut(id).ok_or_else(|| unknown_session(id))
    }

    /// This connection's calls, for the admin API.
    pub fn summaries(&self) -> Vec<CallSummary> {
        let mut all: Vec<CallSummary> = self
            .sessions
            .iter()
            .map(|(session, s)| CallSummary {
                session: session.clone(),
                account: s.account.clone(),
                remote: s.remote.clone(),
                direction: if s.incoming.is_some() {
                    "incoming"
                } else {
                    "outgoing"
                },
                state: s.state.name(),
                seconds: s.started.elapsed().as_secs(),
            })
            .collect();
        all.sort_by(|a, b| a.session.cmp(&b.session));
        all
    }

    fn remove(&mut self, session: &str) -> Option<CallSession> {
        let s = self.sessions.remove(session)?;
        self.by_sip.remove(&s.sip_id);
        self.by_peer.remove(&s.peer);
        self.by_call_id.remove(&s.call_id);
        Some(s)
    }
}

fn unknown_session(id: &str) -> ApiError {
    ApiError::Api(format!("Unknown session {id}"))
}

fn state_event(session: &str, state: CallState) -> Event {
    Event::session(session, SessionEvent::State(state))
}

impl Connection {
    /// `session-trickle`: the browser's candidates go to its transport (kept until the SIP
    /// answer creates it). An empty list (end of candidates) needs nothing.
    pub(crate) async fn session_trickle(
        &mut self,
        r: sylkrtc::SessionTrickleRequest,
    ) -> Result<(), ApiError> {
        let s = self.calls.session_mut(&r.session)?;
        if s.state == State::Terminated {
            return Err(ApiError::Api(format!(
                "Session {} is terminated",
                r.session
            )));
        }
        if !s.bridged {
            // Kept until the SIP answer, as many as the transport will take.
            let room =
                media::transport::peer::MAX_REMOTE_CANDIDATES.saturating_sub(s.candidates.len());
            s.candidates.extend(r.candidates.into_iter().take(room));
            return Ok(());
        }
        let peer = s.peer;
        for c in r.candidates {
            self.forward_candidate(peer, c).await;
        }
        Ok(())
    }

    async fn forward_candidate(&self, peer: PeerId, c: IceCandidate) {
        let index = u16::try_from(c.sdp_m_line_index).ok();
        self.app
            .engine
            .candidate(peer, c.candidate, Some(c.sdp_mid), index)
            .await;
    }

    /// `session-terminate`: CANCEL before the final response, BYE after it; the browser's
    /// transport is closed at once, `terminated` follows when the SIP side is done.
    pub(crate) async fn session_terminate(
        &mut self,
        r: sylkrtc::SessionTerminateRequest,
    ) -> Result<(), ApiError> {
        let decline_code = self.app.config.decline_code;
        let s = self.calls.session_mut(&r.session)?;
        if s.state == State::Terminated {
            return Err(ApiError::Api(format!(
                "Invalid state for terminating session {}: {}",
                r.session,
                s.state.name()
            )));
        }
        info!(conn = self.id, session = %r.session, state = s.state.name(), "terminating call");
        match &s.call {
            Leg::In(call) if s.state == State::Connecting => call.reject(decline_code),
            _ => s.call.hangup(),
        }
        s.set_state(State::Terminated);
        s.candidates.clear();
        let peer = s.peer;
        self.app.engine.close(peer).await;
        Ok(())
    }

    /// Sends `terminated` for a call and forgets it (its SIP side ends in the background).
    async fn end_call(&mut self, session: &str, reason: String) {
        let Some(mut s) = self.calls.remove(session) else {
            return;
        };
        if let Some(Updating::Remote(r)) = s.updating.take() {
            // The far end's re-INVITE the browser never answered: the call is over.
            r.reject(487);
        }
        self.app.engine.close(s.peer).await;
        info!(conn = self.id, %session, %reason, "call terminated");
        s.count_ended(crate::metrics::outcome(&reason));
        self.send(state_event(
            session,
            CallState::Terminated {
                reason: Some(reason),
            },
        ))
        .await;
        // Dropping the handle hangs up, if the SIP side is still up.
        drop(s.call);
    }

    /// A re-INVITE of the far end on an answered call. One that keeps the media (hold,
    /// unhold, a new address, a session-timer refresh) is answered by the media engine here:
    /// the browser's transport needs no change. One that adds media goes to the browser as
    /// `update {state: received, sdp: <offer>}`; its `session-update` answer becomes the 200.
    async fn sip_reoffer(&mut self, session: &str, r: Box<sip::Reinvite>) {
        let Some(s) = self.calls.sessions.get(session) else {
            r.reject(481);
            return;
        };
        if !matches!(s.state, State::Accepted | State::Established) || s.updating.is_some() {
            // RFC 3261 §14.2: an offer is under way (or none can be made yet).
            r.reject(491);
            return;
        }
        let Some(sdp) = r.sdp.clone() else {
            // An offerless re-INVITE would need our offer in the 2xx: not supported yet.
            r.reject(488);
            return;
        };
        match self.app.engine.sip_reoffer(s.peer, sdp).await {
            Ok(media::SipUpdate::Answer(answer)) => {
                info!(conn = self.id, %session, "re-INVITE answered");
                r.answer(answer);
            }
            Ok(media::SipUpdate::ToBrowser(offer)) => {
                info!(conn = self.id, %session, "re-INVITE with new media offered to the browser");
                if let Some(s) = self.calls.sessions.get_mut(session) {
                    s.updating = Some(Updating::Remote(r));
                }
                self.send(Event::session(
                    session,
                    SessionEvent::Update {
                        state: UpdateState::Received,
                        sdp: Some(offer),
                        reason: None,
                    },
                ))
                .await;
            }
            Err(media::MediaError::OfferPending) => r.reject(491),
            Err(e) => {
                warn!(conn = self.id, %session, error = %e, "re-INVITE refused");
                r.reject(488);
            }
        }
    }

    /// `session-dtmf-info`: one INFO (`application/dtmf-relay`) per character of `digit`, in
    /// the dialog, in order.
    pub(crate) fn session_dtmf_info(
        &mut self,
        r: sylkrtc::SessionDtmfInfoRequest,
    ) -> Result<(), ApiError> {
        let max = self.app.config.limits.max_dtmf_digits;
        let digits = r.digit.chars().count();
        if digits > max {
            return Err(self.refused(
                std::time::Instant::now(),
                format!("Too many DTMF digits: {digits} (at most {max})"),
            ));
        }
        let s = self
            .calls
            .sessions
            .get(&r.session)
            .ok_or_else(|| unknown_session(&r.session))?;
        if !matches!(
            s.state,
            State::EarlyMedia | State::Accepted | State::Established
        ) {
            return Err(ApiError::Api(format!(
                "Invalid state session {}: {} for DTMF info",
                r.session,
                s.state.name()
            )));
        }
        let duration = r
            .duration
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d > 0)
            .unwrap_or(DTMF_DURATION_MS);
        for signal in r.digit.chars() {
            match &s.call {
                Leg::Out(call) => call.dtmf(signal, duration),
                Leg::In(call) => call.dtmf(signal, duration),
            }
        }
        Ok(())
    }

    /// `session-update` (§3.3). On an established call the sdp is the browser's offer (hold,
    /// unhold, media added or removed): it goes to SIP as a re-INVITE and `update {state:
    /// accepted, sdp: <browser answer>}` follows its 2xx (`failed` otherwise). After `update
    /// {state: received}` it is the browser's answer to the far end's re-INVITE, which becomes
    /// its 200.
    pub(crate) async fn session_update(
        &mut self,
        r: sylkrtc::SessionUpdateRequest,
    ) -> Result<(), ApiError> {
        let s = self.calls.session_mut(&r.session)?;
        if let Some(Updating::Remote(_)) = &s.updating {
            let Some(Updating::Remote(reinvite)) = s.updating.take() else {
                unreachable!("matched above");
            };
            let peer = s.peer;
            return match self.app.engine.browser_reanswer(peer, r.sdp).await {
                Ok(answer) => {
                    info!(conn = self.id, session = %r.session, "re-INVITE answered by the browser");
                    reinvite.answer(answer);
                    Ok(())
                }
                Err(e) => {
                    warn!(conn = self.id, session = %r.session, error = %e, "browser's answer to a re-INVITE not usable");
                    reinvite.reject(488);
                    self.app.engine.cancel_update(peer).await;
                    Err(ApiError::media(e))
                }
            };
        }
        if s.state != State::Established || s.updating.is_some() {
            let state = s.updating.as_ref().map_or(s.state.name(), Updating::state);
            return Err(ApiError::Api(format!(
                "Invalid state for updating session {}: {state}",
                r.session
            )));
        }
        let update = self
            .app
            .engine
            .browser_reoffer(s.peer, r.sdp)
            .await
            .map_err(ApiError::media)?;
        let (answer, plain) = match update {
            media::BrowserUpdate::Answered { answer, sip } => (Some(answer), sip),
            media::BrowserUpdate::ToSip(sip) => (None, sip),
        };
        match &s.call {
            Leg::Out(call) => call.reinvite(plain),
            Leg::In(call) => call.reinvite(plain),
        }
        s.updating = Some(Updating::Local(answer));
        info!(conn = self.id, session = %r.session, "re-INVITE for a session-update");
        Ok(())
    }

    /// The final response to our re-INVITE.
    async fn reanswered(&mut self, session: &str, code: u16, reason: String, sdp: Option<String>) {
        let Some(s) = self.calls.sessions.get_mut(session) else {
            return;
        };
        let Some(Updating::Local(answer)) = s.updating.take() else {
            return;
        };
        let peer = s.peer;
        let result = match sdp {
            Some(sdp) if (200..300).contains(&code) => {
                match self.app.engine.sip_reanswer(peer, sdp).await {
                    Ok(made) => made
                        .or(answer)
                        .ok_or_else(|| "488 Not Acceptable Here".to_string()),
                    Err(e) => {
                        warn!(conn = self.id, %session, error = %e, "re-INVITE answer not usable");
                        Err("488 Not Acceptable Here".to_string())
                    }
                }
            }
            Some(_) | None if (200..300).contains(&code) => {
                Err("488 Not Acceptable Here".to_string())
            }
            _ => Err(format!("{code} {reason}")),
        };
        if result.is_err() {
            self.app.engine.cancel_update(peer).await;
        }
        let event = match result {
            Ok(answer) => SessionEvent::Update {
                state: UpdateState::Accepted,
                sdp: Some(answer),
                reason: None,
            },
            Err(reason) => SessionEvent::Update {
                state: UpdateState::Failed,
                sdp: None,
                reason: Some(reason),
            },
        };
        self.send(Event::session(session, event)).await;
    }

    /// The final response to our MESSAGE: `disposition-notification` accepted (< 300) or
    /// failed.
    async fn message_sent(
        &mut self,
        session: &str,
        message_id: String,
        timestamp: String,
        code: u16,
        reason: String,
    ) {
        let state = if code < 300 { "accepted" } else { "failed" };
        self.send(Event::session(
            session,
            SessionEvent::DispositionNotification {
                message_id,
                message_timestamp: timestamp,
                state: state.into(),
                code: code.into(),
                reason,
            },
        ))
        .await;
    }

    /// A MESSAGE of the far end in the dialog (§3.3 `message`): CPIM unwrapped; composing
    /// indications and public keys skipped; an IMDN report becomes `disposition-notification`.
    async fn sip_message(&mut self, session: &str, m: sip::SipMessageIn) {
        let (from_uri, display_name) = sender_of(&m.from);
        let cpim = (sip::cpim::media_type(&m.content_type) == sip::cpim::CPIM)
            .then(|| sip::cpim::parse(&m.body))
            .flatten();
        let (sender, timestamp, disposition, message_id, content_type, content) = match cpim {
            Some(c) => {
                let (uri, name) = match c.from.as_deref() {
                    Some(f) if !sip::invite::entry_uri(f).is_empty() => sender_of(f),
                    _ => (from_uri, display_name),
                };
                (
                    Identity::new(&uri, name.as_deref()),
                    c.timestamp.unwrap_or_else(crate::videoroom::now_iso),
                    c.disposition_notification,
                    c.message_id.unwrap_or_else(crate::videoroom::uuid4),
                    c.content_type,
                    c.content,
                )
            }
            None if sip::cpim::media_type(&m.content_type) == sip::cpim::CPIM => {
                warn!(conn = self.id, %session, "unreadable CPIM MESSAGE ignored");
                return;
            }
            None => (
                Identity::new(&from_uri, display_name.as_deref()),
                crate::videoroom::now_iso(),
                None,
                crate::videoroom::uuid4(),
                m.content_type.clone(),
                m.body,
            ),
        };
        let kind = sip::cpim::media_type(&content_type);
        match kind.as_str() {
            "application/im-iscomposing+xml" | "text/pgp-public-key" => {}
            "message/imdn+xml" => {
                let Some(report) = sip::cpim::parse_imdn(&content) else {
                    return;
                };
                self.send(Event::session(
                    session,
                    SessionEvent::DispositionNotification {
                        message_id: report.message_id,
                        message_timestamp: timestamp,
                        state: report.status,
                        code: 200,
                        reason: String::new(),
                    },
                ))
                .await;
            }
            _ => {
                self.send(Event::session(
                    session,
                    SessionEvent::Message {
                        sender,
                        timestamp,
                        disposition_notification: disposition,
                        message_id,
                        content_type,
                        content,
                        direction: None,
                    },
                ))
                .await;
            }
        }
    }

    /// `session-message`: a CPIM-wrapped MESSAGE in the dialog of an established outgoing
    /// or incoming call; `disposition-notification` follows its final response.
    pub(crate) fn session_message(
        &self,
        r: sylkrtc::SessionMessageRequest,
    ) -> Result<(), ApiError> {
        let s = self
            .calls
            .sessions
            .get(&r.session)
            .ok_or_else(|| unknown_session(&r.session))?;
        if s.state != State::Established {
            return Err(ApiError::Api(format!(
                "Invalid state session {}: {} for sending messages",
                r.session,
                s.state.name()
            )));
        }
        let message = sip::OutMessage {
            message_id: r.message_id,
            timestamp: r.timestamp,
            content_type: r.content_type,
            content: r.content,
        };
        match &s.call {
            Leg::Out(call) => call.message(message),
            Leg::In(call) => call.message(message),
        }
        Ok(())
    }

    /// A media event about a call's browser transport.
    pub(crate) async fn call_media_event(&mut self, event: MediaEvent) {
        let Some(session) = self.calls.by_peer.get(&event.peer).cloned() else {
            return;
        };
        let Some(s) = self.calls.sessions.get_mut(&session) else {
            return;
        };
        if s.state == State::Terminated {
            return;
        }
        match event.event {
            PeerEvent::Connected => {
                s.set_state(State::Established);
                info!(conn = self.id, %session, "call established");
                self.send(state_event(&session, CallState::Established))
                    .await;
            }
            PeerEvent::Closed(reason) => {
                warn!(conn = self.id, %session, %reason, "call media ended");
                self.end_call(&session, reason).await;
            }
            PeerEvent::AudioLevel(_) | PeerEvent::Muted(_) => {}
        }
    }

    /// The connection closed: every call is hung up (CANCEL or BYE in the background).
    pub(crate) async fn close_calls(&mut self) {
        let sessions: Vec<String> = self.calls.sessions.keys().cloned().collect();
        if !sessions.is_empty() {
            info!(
                conn = self.id,
                calls = sessions.len(),
                "hanging up the connection's calls"
            );
        }
        for session in sessions {
            if let Some(mut s) = self.calls.remove(&session) {
                s.count_ended("closed");
                s.call.hangup();
                self.app.engine.close(s.peer).await;
            }
        }
    }
}

/// The headers whose names start with one of `prefixes` (case-insensitive), as an object;
/// `None` when there are none.
fn filter_headers(prefixes: &[String], headers: &[(String, String)]) -> Option<Map<String, Value>> {
    let map: Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            prefixes
                .iter()
                .any(|p| !p.is_empty() && name.starts_with(&p.to_ascii_lowercase()))
        })
        .map(|(n, v)| (n.clone(), Value::String(v.clone())))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// The URI (with its scheme) and display name of a From value (`"Bob" <sip:bob@x>;tag=1`).
fn sender_of(from: &str) -> (String, Option<String>) {
    let uri = signaling::sip::invite::entry_uri(from).to_string();
    let name = from
        .find('<')
        .map(|i| from[..i].trim().trim_matches('"').trim().to_string())
        .filter(|n| !n.is_empty());
    (uri, name)
}
