//! Outgoing calls: `session-create` and the SIP events of the INVITE we sent.

use media::MediaError;
use serde_json::{Map, Value};
use signaling::sip::{self, CallEvent, CallUpdate};
use signaling::sylkrtc::*;
use tracing::{info, warn};

use super::*;
use crate::connection::{ApiError, Connection};

impl Connection {
    /// `session-create`: bridge the browser's offer to plain RTP, resolve where the callee's
    /// domain is served, send the INVITE; `ack` once it is sent, then `progress`.
    pub(crate) async fn session_create(
        &mut self,
        r: sylkrtc::SessionCreateRequest,
    ) -> Result<(), ApiError> {
        if self.session_in_use(&r.session) {
            return Err(ApiError::Api(format!(
                "Session ID {} already in use",
                r.session
            )));
        }
        let account = self.account(&r.account)?.clone();
        if self.app.draining() {
            return Err(ApiError::Api(crate::server::SHUTTING_DOWN.into()));
        }
        let max = self.app.config.limits.max_calls_per_connection;
        if self.calls.len() >= max {
            return Err(self.refused(
                std::time::Instant::now(),
                format!("Too many calls on this connection (at most {max})"),
            ));
        }
        let from = sip::Aor::parse(&account.id)
            .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", account.id)))?;
        let to = sip::Aor::parse(&r.uri)
            .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", r.uri)))?;
        let engine = self.app.engine.clone();
        let peer = engine.new_peer_id();
        let offer = engine
            .bridge_offer(
                peer,
                r.sdp,
                self.app.config.sdes_mode(&account.id, Some(&r.uri)),
            )
            .await
            .map_err(|e| match e {
                MediaError::NoCommonCodec => {
                    ApiError::Api("Invalid SDP: no codec that can be sent to SIP".into())
                }
                other => ApiError::media(other),
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
                call_id: call.call_id().to_string(),
                call: Leg::Out(call),
                incoming: None,
                updating: None,
                state: State::Progress,
                bridged: false,
                candidates: Vec::new(),
                header_prefixes: account.incoming_header_prefixes.clone(),
                account: account.id.clone(),
                remote: r.uri.clone(),
                started: std::time::Instant::now(),
                live: self.app.call_started(State::Progress as usize),
            },
        );
        self.after_ack
            .push(state_event(&r.session, CallState::Progress));
        Ok(())
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
        let (state, bridged, call_id) = (s.state, s.bridged, s.call_id.clone());
        match update.event {
            CallEvent::Ended { reason } => self.end_call(&session, reason).await,
            CallEvent::Reoffer(r) => self.sip_reoffer(&session, r).await,
            CallEvent::Reanswered { code, reason, sdp } => {
                self.reanswered(&session, code, reason, sdp).await
            }
            CallEvent::Message(m) => self.sip_message(&session, m).await,
            CallEvent::MessageSent {
                message_id,
                timestamp,
                code,
                reason,
            } => {
                self.message_sent(&session, message_id, timestamp, code, reason)
                    .await
            }
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
                            s.set_state(s.state.max(State::EarlyMedia));
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
                        s.set_state(s.state.max(State::Accepted));
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
                            s.set_state(s.state.max(State::Accepted));
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
        filter_headers(prefixes, headers)
    }
}
