//! Incoming calls: the INVITE for one of the connection's bindings, `session-answer`, and the
//! SIP events of the call.

use signaling::sip::{self, IncomingEvent, IncomingUpdate};
use signaling::sylkrtc::*;
use tracing::{info, warn};

use super::*;
use crate::connection::{ApiError, Connection};

impl Connection {
    /// An incoming call for one of this connection's bindings, or the end of one.
    pub(crate) async fn incoming_update(&mut self, update: IncomingUpdate) {
        match update.event {
            IncomingEvent::Invite(invite) => self.incoming_invite(update.call_id, *invite).await,
            IncomingEvent::Reoffer(r) => {
                match self.calls.by_call_id.get(&update.call_id).cloned() {
                    Some(session) => self.sip_reoffer(&session, r).await,
                    None => r.reject(481),
                }
            }
            IncomingEvent::Reanswered { code, reason, sdp } => {
                if let Some(session) = self.calls.by_call_id.get(&update.call_id).cloned() {
                    self.reanswered(&session, code, reason, sdp).await;
                }
            }
            IncomingEvent::MessageSent {
                message_id,
                timestamp,
                code,
                reason,
            } => {
                if let Some(session) = self.calls.by_call_id.get(&update.call_id).cloned() {
                    self.message_sent(&session, message_id, timestamp, code, reason)
                        .await;
                }
            }
            IncomingEvent::Message(m) => {
                if let Some(session) = self.calls.by_call_id.get(&update.call_id).cloned() {
                    self.sip_message(&session, m).await;
                }
            }
            IncomingEvent::Ended { reason, missed } => {
                let Some(session) = self.calls.by_call_id.get(&update.call_id).cloned() else {
                    return;
                };
                let incoming = self
                    .calls
                    .sessions
                    .get(&session)
                    .and_then(|s| s.incoming.clone());
                self.end_call(&session, reason).await;
                if let (true, Some((account, originator))) = (missed, incoming) {
                    self.send(Event::account(
                        account,
                        AccountEvent::MissedSession { originator },
                    ))
                    .await;
                }
            }
        }
    }

    /// A new incoming call: the engine turns the SIP offer into a WebRTC offer, the caller
    /// hears 180, the client gets `incoming-session`.
    async fn incoming_invite(&mut self, call_id: String, invite: sip::IncomingInvite) {
        let session = sip::incoming::session_id(&call_id);
        let Some(account) = self.accounts.get(&invite.account).cloned() else {
            invite.call.reject(480);
            return;
        };
        if self.calls.contains(&session) {
            invite.call.reject(482);
            return;
        }
        if self.app.draining() {
            // Shutting down: the caller's proxy may try another gateway.
            info!(conn = self.id, %call_id, "incoming call refused: shutting down (503)");
            invite.call.reject(503);
            return;
        }
        let max = self.app.config.limits.max_calls_per_connection;
        if self.calls.len() >= max {
            info!(conn = self.id, %call_id, max, "incoming call refused: the connection has too many calls");
            invite.call.reject(486);
            return;
        }
        let Some(sip_sdp) = invite.sdp.clone() else {
            invite.call.reject(488);
            return;
        };
        let engine = self.app.engine.clone();
        let peer = engine.new_peer_id();
        let offer = match engine
            .incoming_offer(
                peer,
                sip_sdp,
                self.app.config.sdes_mode(&account.id, None),
                self.calls.media_tx.clone(),
            )
            .await
        {
            Ok(offer) => offer,
            Err(e) => {
                warn!(conn = self.id, %call_id, error = %e, "incoming call refused");
                engine.close(peer).await;
                invite.call.reject(488);
                return;
            }
        };
        invite.call.ringing();
        if let Some(aor) = sip::Aor::parse(&account.id) {
            // For a 401/407 to our re-INVITE, MESSAGE, INFO or BYE in this dialog.
            invite
                .call
                .credentials(aor.user, sip::Ha1(account.password.expose().to_string()));
        }
        let originator = Identity::new(&invite.from_uri, invite.display_name.as_deref());
        let prefixes = account.incoming_header_prefixes.clone();
        let headers = filter_headers(&prefixes, &invite.headers);
        info!(conn = self.id, %session, account = %account.id, %call_id, from = %originator.uri, "incoming call");
        let sip_id = self.calls.next_id;
        self.calls.next_id += 1;
        self.calls.by_peer.insert(peer, session.clone());
        self.calls
            .by_call_id
            .insert(call_id.clone(), session.clone());
        self.calls.sessions.insert(
            session.clone(),
            CallSession {
                peer,
                sip_id,
                call: Leg::In(invite.call),
                call_id: call_id.clone(),
                incoming: Some((account.id.clone(), originator.clone())),
                updating: None,
                state: State::Connecting,
                bridged: true,
                candidates: Vec::new(),
                header_prefixes: prefixes,
                account: account.id.clone(),
                remote: originator.uri.clone(),
                started: std::time::Instant::now(),
                live: self.app.call_started(State::Connecting as usize),
            },
        );
        self.send(Event::account(
            account.id,
            AccountEvent::IncomingSession {
                session,
                originator,
                sdp: offer,
                call_id,
                headers,
            },
        ))
        .await;
    }

    /// `session-answer`: the browser's answer to an incoming call; the caller gets 200 OK
    /// with the plain SDP answer; `accepted` follows the ack.
    pub(crate) async fn session_answer(
        &mut self,
        r: sylkrtc::SessionAnswerRequest,
    ) -> Result<(), ApiError> {
        let s = self.calls.session_mut(&r.session)?;
        let Leg::In(call) = &s.call else {
            return Err(ApiError::Api(format!(
                "Cannot answer outgoing session {}",
                r.session
            )));
        };
        if s.state != State::Connecting {
            return Err(ApiError::Api(format!(
                "Invalid state for answering session {}: {}",
                r.session,
                s.state.name()
            )));
        }
        let answer = self
            .app
            .engine
            .incoming_answer(s.peer, r.sdp)
            .await
            .map_err(ApiError::media)?;
        call.answer(answer);
        s.set_state(State::Accepted);
        info!(conn = self.id, session = %r.session, "incoming call answered");
        self.after_ack.push(state_event(
            &r.session,
            CallState::Accepted {
                sdp: None,
                call_id: None,
                headers: None,
            },
        ));
        Ok(())
    }
}
