//! Outgoing 1:1 calls toward SIP (§2.3 `session-create`, `-trickle`, `-terminate`; §3.3
//! `session-event` states) and the SIP and media events that complete them.
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

use media::{MediaError, MediaEvent, PeerEvent, PeerId};
use serde_json::{Map, Value};
use signaling::sip::{self, CallEvent, CallUpdate};
use signaling::sylkrtc::{self, CallState, Event, IceCandidate, SessionEvent};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::connection::{ApiError, Connection};

/// Call updates queued for one connection (a few per call); a call task waits when full.
const CALL_EVENTS: usize = 64;
/// Media events of call peers queued for one connection (connected/closed per call).
const CALL_MEDIA_EVENTS: usize = 64;

/// The server-side states of §2.3 an outgoing call goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Progress,
    EarlyMedia,
    Accepted,
    Established,
    /// The client hung up; `terminated` follows when the SIP side is done.
    Terminated,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Progress => "progress",
            State::EarlyMedia => "early_media",
            State::Accepted => "accepted",
            State::Established => "established",
            State::Terminated => "terminated",
        }
    }
}

/// One outgoing call of this connection.
struct CallSession {
    peer: PeerId,
    sip_id: u64,
    call: sip::OutgoingCall,
    state: State,
    /// `bridge_answer` done: the browser's transport exists in the engine.
    bridged: bool,
    /// Candidates trickled before the browser's transport exists.
    candidates: Vec<IceCandidate>,
    /// The account's `incoming_header_prefixes`: 2xx headers starting with one of them go
    /// into `accepted.headers`.
    header_prefixes: Vec<String>,
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
}

impl Default for Calls {
    fn default() -> Self {
        let (sip_tx, sip_rx) = mpsc::channel(CALL_EVENTS);
        let (media_tx, media_rx) = mpsc::channel(CALL_MEDIA_EVENTS);
        Calls {
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

    fn remove(&mut self, session: &str) -> Option<CallSession> {
        let s = self.sessions.remove(session)?;
        self.by_sip.remove(&s.sip_id);
        self.by_peer.remove(&s.peer);
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
    /// `session-create`: bridge the browser's offer to plain RTP, resolve where the callee's
    /// domain is served, send the INVITE; `ack` once it is sent, then `progress`.
    pub(crate) async fn session_create(
        &mut self,
        r: sylkrtc::SessionCreateRequest,
    ) -> Result<(), ApiError> {
        if self.calls.contains(&r.session)
            || self.room_sessions.contains_key(&r.session)
            || self.feeds.contains_key(&r.session)
        {
            return Err(ApiError::Api(format!(
                "Session ID {} already in use",
                r.session
            )));
        }
        let account = self.account(&r.account)?.clone();
        let from = sip::Aor::parse(&account.id)
            .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", account.id)))?;
        let to = sip::Aor::parse(&r.uri)
            .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", r.uri)))?;
        let engine = self.app.engine.clone();
        let peer = engine.new_peer_id();
        let offer = engine
            .bridge_offer(peer, r.sdp)
            .await
            .map_err(|e| match e {
                MediaError::BadSdp(detail) => ApiError::Api(format!("Invalid SDP: {detail}")),
                MediaError::NoCommonCodec => {
                    ApiError::Api("Invalid SDP: no codec that can be sent to SIP".into())
                }
                MediaError::EngineGone => ApiError::Internal("media engine is gone".into()),
                other => ApiError::Api(other.to_string()),
            })?;
        let target = match self.app.sip.resolve(&to).await {
            Ok(t) => t,
            Err(e) => {
                engine.close(peer).await;
                return Err(ApiError::Api(format!("DNS lookup error: {e}")));
            }
        };
        let headers: Vec<(String, String)> = r
            .headers
            .unwrap_or_default()
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect();
        let request = sip::CallRequest {
            account: account.id.clone(),
            from,
            display_name: account.display_name.clone(),
            user_agent: account.user_agent.clone(),
            ha1: sip::Ha1(account.password.expose().to_string()),
            to,
            sdp: offer,
            headers: sip::invite::extra_headers(&headers),
        };
        let sip_id = self.calls.next_id;
        self.calls.next_id += 1;
        let call = match self
            .app
            .sip
            .call(request, target, sip_id, self.calls.sip_tx.clone())
            .await
        {
            Ok(call) => call,
            Err(e) => {
                engine.close(peer).await;
                return Err(ApiError::Api(format!("Cannot send the INVITE: {e}")));
            }
        };
        info!(
            conn = self.id,
            session = %r.session,
            account = %account.id,
            uri = %r.uri,
            call_id = call.call_id(),
            "outgoing call"
        );
        self.calls.by_sip.insert(sip_id, r.session.clone());
        self.calls.by_peer.insert(peer, r.session.clone());
        self.calls.sessions.insert(
            r.session.clone(),
            CallSession {
                peer,
                sip_id,
                call,
                state: State::Progress,
                bridged: false,
                candidates: Vec::new(),
                header_prefixes: account.incoming_header_prefixes.clone(),
            },
        );
        self.after_ack
            .push(state_event(&r.session, CallState::Progress));
        Ok(())
    }

    /// `session-trickle`: the browser's candidates go to its transport (kept until the SIP
    /// answer creates it). An empty list (end of candidates) needs nothing.
    pub(crate) async fn session_trickle(
        &mut self,
        r: sylkrtc::SessionTrickleRequest,
    ) -> Result<(), ApiError> {
        let s = self
            .calls
            .sessions
            .get_mut(&r.session)
            .ok_or_else(|| unknown_session(&r.session))?;
        if s.state == State::Terminated {
            return Err(ApiError::Api(format!(
                "Session {} is terminated",
                r.session
            )));
        }
        if !s.bridged {
            s.candidates.extend(r.candidates);
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
        let s = self
            .calls
            .sessions
            .get_mut(&r.session)
            .ok_or_else(|| unknown_session(&r.session))?;
        if s.state == State::Terminated {
            return Err(ApiError::Api(format!(
                "Invalid state for terminating session {}: {}",
                r.session,
                s.state.name()
            )));
        }
        info!(conn = self.id, session = %r.session, state = s.state.name(), "terminating call");
        s.state = State::Terminated;
        s.call.hangup();
        s.candidates.clear();
        let peer = s.peer;
        self.app.engine.close(peer).await;
        Ok(())
    }

    /// Sends `terminated` for a call and forgets it (its SIP side ends in the background).
    async fn end_call(&mut self, session: &str, reason: String) {
        let Some(s) = self.calls.remove(session) else {
            return;
        };
        self.app.engine.close(s.peer).await;
        info!(conn = self.id, %session, %reason, "call terminated");
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

    /// Completes the browser's transport with the SIP side's SDP answer; returns the SDP
    /// answer for the browser, and forwards the candidates that waited for it.
    async fn bridge(&mut self, session: &str, sip_sdp: String) -> Result<String, MediaError> {
        let Some(s) = self.calls.sessions.get_mut(session) else {
            return Err(MediaError::UnknownPeer);
        };
        let peer = s.peer;
        let answer = self
            .app
            .engine
            .bridge_answer(peer, sip_sdp, self.calls.media_tx.clone())
            .await?;
        s.bridged = true;
        let waiting = std::mem::take(&mut s.candidates);
        for c in waiting {
            self.forward_candidate(peer, c).await;
        }
        Ok(answer)
    }

    /// A call's SIP progress.
    pub(crate) async fn call_update(&mut self, update: CallUpdate) {
        let Some(session) = self.calls.by_sip.get(&update.id).cloned() else {
            return;
        };
        let Some(s) = self.calls.sessions.get(&session) else {
            return;
        };
        let (state, bridged, call_id) = (s.state, s.bridged, s.call.call_id().to_string());
        match update.event {
            CallEvent::Ended { reason } => self.end_call(&session, reason).await,
            // The client hung up: nothing more but `terminated`.
            _ if state == State::Terminated => {}
            CallEvent::Progress { code, sdp, .. } => {
                let event = if code == 180 {
                    CallState::Ringing
                } else {
                    CallState::Proceeding { code: code.into() }
                };
                self.send(state_event(&session, event)).await;
                let Some(sdp) = sdp.filter(|_| !bridged) else {
                    return;
                };
                match self.bridge(&session, sdp).await {
                    Ok(answer) => {
                        if let Some(s) = self.calls.sessions.get_mut(&session) {
                            s.state = s.state.max(State::EarlyMedia);
                        }
                        self.send(state_event(
                            &session,
                            CallState::EarlyMedia {
                                sdp: Some(answer),
                                call_id: Some(call_id),
                            },
                        ))
                        .await;
                    }
                    // The final answer decides (a 2xx with the same SDP is refused then).
                    Err(e) => {
                        warn!(conn = self.id, %session, error = %e, "early media not usable")
                    }
                }
            }
            CallEvent::Answered { sdp, headers } => {
                let headers = self.accepted_headers(&session, &headers);
                if bridged {
                    if let Some(s) = self.calls.sessions.get_mut(&session) {
                        s.state = s.state.max(State::Accepted);
                    }
                    self.send(state_event(
                        &session,
                        CallState::Accepted {
                            sdp: None,
                            call_id: None,
                            headers,
                        },
                    ))
                    .await;
                    return;
                }
                let result = match sdp {
                    Some(sdp) => self.bridge(&session, sdp).await,
                    None => Err(MediaError::BadSdp("no SDP in the answer".into())),
                };
                match result {
                    Ok(answer) => {
                        if let Some(s) = self.calls.sessions.get_mut(&session) {
                            s.state = s.state.max(State::Accepted);
                        }
                        self.send(state_event(
                            &session,
                            CallState::Accepted {
                                sdp: Some(answer),
                                call_id: Some(call_id),
                                headers,
                            },
                        ))
                        .await;
                    }
                    Err(e) => {
                        // The 2xx was ACKed; the dialog ends with a BYE.
                        warn!(conn = self.id, %session, error = %e, "the SIP answer cannot be bridged");
                        self.end_call(&session, "488 Not Acceptable Here".into())
                            .await;
                    }
                }
            }
        }
    }

    /// The 2xx headers named by the account's `incoming_header_prefixes`, as an object.
    fn accepted_headers(
        &self,
        session: &str,
        headers: &[(String, String)],
    ) -> Option<Map<String, Value>> {
        let prefixes = &self.calls.sessions.get(session)?.header_prefixes;
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
                s.state = State::Established;
                info!(conn = self.id, %session, "call established");
                self.send(state_event(&session, CallState::Established))
                    .await;
            }
            PeerEvent::Closed(reason) => {
                warn!(conn = self.id, %session, %reason, "call media ended");
                self.end_call(&session, reason).await;
            }
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
                s.call.hangup();
                self.app.engine.close(s.peer).await;
            }
        }
    }
}
