//! One outgoing call as a task: the INVITE (answering one 401/407 from the HA1), its
//! provisional and final responses, CANCEL or BYE when the owner hangs up (or drops the
//! handle), and the BYE of the far end.
//!
//! ```text
//! SipUa::call ──INVITE sent──▶ OutgoingCall (handle)
//!   1xx (not 100) ──▶ Progress{code, reason, sdp?}
//!   401/407 ──▶ INVITE again with credentials (once; stale nonces again)
//!   2xx ──▶ (rsipstack ACKs it) Answered{sdp, headers}
//!   3xx-6xx / no answer ──▶ Ended "<code> <reason>" / "408 Request Timeout"
//! hangup() or handle dropped:
//!   before the final response ──▶ CANCEL (as soon as a provisional response came)
//!                                 ──▶ the INVITE's 487 ──▶ Ended "487 Request Terminated"
//!   after the 2xx ──▶ BYE ──▶ Ended "<code of the BYE's response> to BYE"
//! BYE from the far end ──▶ (200 sent by the user agent) Ended "200 Received BYE"
//! ```
//!
//! The reason texts are Sofia-SIP's, which Janus's SIP plugin hands to SylkServer in its
//! `hangup` event: `to BYE` for our BYE, `Received BYE` for the far end's.
//!
//! `Transaction::receive` is not cancel-safe, so each INVITE transaction is read by a task of
//! its own that forwards the responses on a channel; the call task selects over that channel,
//! the hang-up signal and the requests the user agent routes to the dialog (by Call-ID and To
//! tag). Every call ends with exactly one `Ended`.

use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::SipMessage;
use rsipstack::transaction::Transaction;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::addr::{Aor, Target};
use super::invite::{sdp_body, InviteCore, InviteOutcome, InviteParams};
use super::register::{status_text, Ha1, ResponseInfo};
use super::ua::{local_response, LiveTask, SipUa, UaInner};

/// What to call.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The account as the client named it (logs).
    pub account: String,
    pub from: Aor,
    pub display_name: Option<String>,
    /// The client's User-Agent; the user agent's own when `None`.
    pub user_agent: Option<String>,
    pub ha1: Ha1,
    pub to: Aor,
    /// The SDP offer (plain RTP) for the INVITE.
    pub sdp: String,
    /// Extra INVITE headers (filtered: see [`super::invite::extra_headers`]).
    pub headers: Vec<(String, String)>,
}

/// What happened to a call.
#[derive(Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// A provisional response other than 100 Trying, with its SDP (early media) if it has one.
    Progress {
        code: u16,
        reason: String,
        sdp: Option<String>,
    },
    /// The 2xx (already ACKed): its SDP answer and all its headers.
    Answered {
        sdp: Option<String>,
        headers: Vec<(String, String)>,
    },
    /// The call is over: `<code> <reason>` of the final failure, `487 Request Terminated`
    /// after a CANCEL, `<code> to BYE` after our BYE, `200 Received BYE` after theirs.
    Ended { reason: String },
    /// A re-INVITE of the far end in the confirmed dialog: the owner answers it.
    Reoffer(Box<Reinvite>),
    /// The final response to our re-INVITE ([`OutgoingCall::reinvite`]), already ACKed when
    /// 2xx: `<code> <reason>` and its SDP.
    Reanswered {
        code: u16,
        reason: String,
        sdp: Option<String>,
    },
    /// A MESSAGE of the far end in the dialog (already answered 200).
    Message(SipMessageIn),
    /// The final response to our MESSAGE ([`OutgoingCall::message`]).
    MessageSent {
        message_id: String,
        timestamp: String,
        code: u16,
        reason: String,
    },
}

/// A MESSAGE received inside a dialog: its From, Content-Type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipMessageIn {
    /// The From header value.
    pub from: String,
    pub content_type: String,
    pub body: String,
}

/// A message to send in the dialog as a CPIM-wrapped MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub message_id: String,
    pub timestamp: String,
    pub content_type: String,
    pub content: String,
}

/// A call's event, tagged with the owner's id for it.
#[derive(Debug, PartialEq, Eq)]
pub struct CallUpdate {
    pub id: u64,
    pub event: CallEvent,
}

/// The INVITE could not be sent: `<code> <reason>` (a local 500 or 503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

/// A running outgoing call. [`OutgoingCall::hangup`] or dropping it ends the call (CANCEL or
/// BYE, in the background); its `Ended` still comes when the owner listens.
#[derive(Debug)]
pub struct OutgoingCall {
    call_id: String,
    stop: Option<oneshot::Sender<()>>,
    info: mpsc::UnboundedSender<String>,
    reinvite: mpsc::UnboundedSender<String>,
    message: mpsc::UnboundedSender<OutMessage>,
}

/// The body of a DTMF INFO (`application/dtmf-relay`).
pub fn dtmf_relay_body(signal: char, duration_ms: u32) -> String {
    format!("Signal={signal}\r\nDuration={duration_ms}\r\n")
}

/// Content type of [`dtmf_relay_body`].
pub const DTMF_RELAY: &str = "application/dtmf-relay";

impl OutgoingCall {
    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Sends one DTMF tone as an INFO in the dialog (once it is confirmed; queued until then).
    pub fn dtmf(&self, signal: char, duration_ms: u32) {
        let _ = self.info.send(dtmf_relay_body(signal, duration_ms));
    }

    /// Sends a re-INVITE with `sdp` in the confirmed dialog; its final response comes as
    /// [`CallEvent::Reanswered`].
    pub fn reinvite(&self, sdp: String) {
        let _ = self.reinvite.send(sdp);
    }

    /// Sends a CPIM-wrapped MESSAGE in the confirmed dialog; its final response comes as
    /// [`CallEvent::MessageSent`].
    pub fn message(&self, message: OutMessage) {
        let _ = self.message.send(message);
    }

    /// Ends the call: CANCEL before the final response, BYE after a 2xx. Idempotent.
    pub fn hangup(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Where the user agent sends requests that arrive inside a call's dialog.
#[derive(Debug)]
pub(crate) struct CallRoute {
    /// Our tag: the To tag of the far end's requests.
    pub(crate) local_tag: String,
    pub(crate) tx: mpsc::UnboundedSender<InDialog>,
}

/// A request of the far end inside the dialog: a BYE (already answered by the user agent),
/// or a re-INVITE that the owner answers.
#[derive(Debug)]
pub(crate) enum InDialog {
    Bye,
    Message(SipMessageIn),
    Reinvite(Box<Reinvite>),
}

/// A re-INVITE of the far end (hold/unhold), to answer with [`Reinvite::answer`] or
/// [`Reinvite::reject`]. Its server transaction is read by a task of its own (which also
/// absorbs the ACK).
pub struct Reinvite {
    /// The SDP offer of the re-INVITE, if it has one.
    pub sdp: Option<String>,
    pub(crate) original: rsipstack::sip::Request,
    pub(crate) endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    pub(crate) respond: rsipstack::transaction::transaction::TransactionEventSender,
    /// Our Contact URI, for the 2xx.
    pub(crate) contact: String,
}

impl std::fmt::Debug for Reinvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reinvite")
            .field("sdp", &self.sdp)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Reinvite {
    /// Two re-INVITEs are the same only if they are the same value.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Reinvite {}

impl Reinvite {
    fn send(&self, code: u16, sdp: Option<String>) {
        use rsipstack::sip::{Header, StatusCode};
        let has_body = sdp.is_some();
        let mut response = self.endpoint.make_response(
            &self.original,
            StatusCode::from(code),
            sdp.map(String::into_bytes),
        );
        if (200..300).contains(&code) {
            response.headers.push(Header::Other(
                "Contact".into(),
                format!("<{}>", self.contact),
            ));
            response
                .headers
                .push(Header::Other("Allow".into(), super::invite::ALLOW.into()));
        }
        if has_body {
            response.headers.push(Header::Other(
                "Content-Type".into(),
                "application/sdp".into(),
            ));
        }
        let _ = self
            .respond
            .send(rsipstack::transaction::transaction::TransactionEvent::Respond(response));
    }

    /// 200 OK with the SDP answer.
    pub fn answer(self, sdp: String) {
        self.send(200, Some(sdp));
    }

    /// A failure response (488 when the offer cannot be taken).
    pub fn reject(self, code: u16) {
        self.send(code, None);
    }
}

/// How long the INVITE's final response is awaited after a CANCEL (64*T1, RFC 3261 §9.1).
const CANCEL_WAIT: Duration = Duration::from_secs(32);

impl SipUa {
    /// Sends the INVITE of `request` to `target` (from [`SipUa::resolve`]) and returns once it
    /// is sent; the call's events go to `events`, tagged with `id`.
    pub async fn call(
        &self,
        request: CallRequest,
        target: Target,
        id: u64,
        events: mpsc::Sender<CallUpdate>,
    ) -> Result<OutgoingCall, CallError> {
        let inner = self.inner.clone();
        let params = InviteParams {
            from: request.from,
            display_name: request.display_name,
            to: request.to,
            user_agent: request
                .user_agent
                .unwrap_or_else(|| inner.config.user_agent.clone()),
            ha1: request.ha1,
            local_ip: self.local_ip_towards(target.addr),
            local_port: self.local_addr().port(),
            transport: target.transport,
            sdp: request.sdp,
            headers: request.headers,
        };
        let to = params.to.uri();
        let mut core = InviteCore::new(params, rand::random());
        let call_id = core.call_id().to_string();
        let (dialog_tx, dialog_rx) = mpsc::unbounded_channel();
        inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                call_id.clone(),
                CallRoute {
                    local_tag: core.local_tag().to_string(),
                    tx: dialog_tx,
                },
            );
        let text = core.invite();
        let tx = match inner.start_client(&text, target).await {
            Ok(tx) => tx,
            Err(r) => {
                inner
                    .calls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&call_id);
                return Err(CallError(status_text(r.code, &r.reason)));
            }
        };
        info!(account = %request.account, %to, %target, %call_id, "calling");
        let (responses_tx, responses_rx) = mpsc::unbounded_channel();
        read_responses(inner.clone(), tx, responses_tx.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let (info_tx, info_rx) = mpsc::unbounded_channel();
        let (reinvite_tx, reinvite_rx) = mpsc::unbounded_channel();
        let (message_tx, message_rx) = mpsc::unbounded_channel();
        let task = Task {
            setup_deadline: tokio::time::Instant::now() + inner.config.call_setup_timeout,
            timed_out: false,
            message: message_rx,
            info: info_rx,
            reinvite: reinvite_rx,
            live: inner.task_started(),
            ua: self.clone(),
            core,
            target,
            id,
            account: request.account,
            events,
            responses_tx,
            responses_rx,
            dialog: dialog_rx,
        };
        tokio::spawn(task.run(stop_rx));
        Ok(OutgoingCall {
            call_id,
            stop: Some(stop_tx),
            info: info_tx,
            reinvite: reinvite_tx,
            message: message_tx,
        })
    }
}

/// Reads one INVITE transaction to its final response, in a task of its own (`receive` is
/// not cancel-safe). Dropping the transaction afterwards leaves rsipstack the ACK it sent, to
/// repeat for retransmitted final responses.
pub(crate) fn read_responses(
    ua: Arc<UaInner>,
    mut tx: Transaction,
    out: mpsc::UnboundedSender<ResponseInfo>,
) {
    tokio::spawn(async move {
        while let Some(message) = tx.receive().await {
            if let SipMessage::Response(response) = message {
                let info = ua.response_info(&response, tx.response_source.as_ref());
                let done = info.code >= 200;
                let _ = out.send(info);
                if done {
                    return;
                }
            }
        }
        let _ = out.send(local_response(408, "Request Timeout"));
    });
}

struct Task {
    ua: SipUa,
    live: LiveTask,
    core: InviteCore,
    /// When the call is cancelled if no final answer came.
    setup_deadline: tokio::time::Instant,
    /// The setup deadline passed: the CANCEL was ours, the call ends `408 Request Timeout`.
    timed_out: bool,
    /// Where the INVITE (and its CANCEL) went.
    target: Target,
    id: u64,
    account: String,
    events: mpsc::Sender<CallUpdate>,
    responses_tx: mpsc::UnboundedSender<ResponseInfo>,
    responses_rx: mpsc::UnboundedReceiver<ResponseInfo>,
    dialog: mpsc::UnboundedReceiver<InDialog>,
    /// DTMF relay bodies to send as INFO once confirmed.
    info: mpsc::UnboundedReceiver<String>,
    /// SDP offers to send as re-INVITEs once confirmed.
    reinvite: mpsc::UnboundedReceiver<String>,
    /// Messages to send as MESSAGE once confirmed.
    message: mpsc::UnboundedReceiver<OutMessage>,
}

impl Task {
    async fn run(mut self, stop: oneshot::Receiver<()>) {
        let mut reason = self.drive(stop).await;
        if self.timed_out && reason.starts_with("487 ") {
            reason = "408 Request Timeout".into();
        }
        info!(account = %self.account, call_id = %self.core.call_id(), %reason, "call ended");
        self.inner()
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.core.call_id());
        // The owner may be gone (connection closed): the call still ended cleanly.
        self.emit(CallEvent::Ended { reason }).await;
        drop(self.live);
    }

    fn inner(&self) -> &Arc<UaInner> {
        &self.ua.inner
    }

    /// Runs the call to its end; returns the reason.
    async fn drive(&mut self, mut stop: oneshot::Receiver<()>) -> String {
        let mut hangup = false;
        // A provisional response came for the INVITE in flight: a CANCEL may be sent.
        let mut may_cancel = false;
        let mut cancel_deadline: Option<tokio::time::Instant> = None;
        loop {
            let cancel_timeout = async {
                match cancel_deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop, if !hangup => {
                    hangup = true;
                    if may_cancel {
                        self.cancel();
                        cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_WAIT);
                    }
                }
                _ = tokio::time::sleep_until(self.setup_deadline), if !hangup => {
                    info!(call_id = %self.core.call_id(), "no final answer within the call setup timeout: cancelling");
                    hangup = true;
                    self.timed_out = true;
                    // Without a provisional response yet, the CANCEL goes with the first
                    // one (a CANCEL may not precede it, RFC 3261 §9.1).
                    if may_cancel {
                        self.cancel();
                        cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_WAIT);
                    }
                }
                response = self.responses_rx.recv() => {
                    // The task holds a sender: the channel stays open.
                    let Some(response) = response else {
                        return "500 Internal Server Error".into();
                    };
                    if response.code < 200 {
                        may_cancel = true;
                        if hangup {
                            if cancel_deadline.is_none() {
                                self.cancel();
                                cancel_deadline =
                                    Some(tokio::time::Instant::now() + CANCEL_WAIT);
                            }
                        } else if response.code > 100 {
                            let event = CallEvent::Progress {
                                code: response.code,
                                reason: response.reason.clone(),
                                sdp: sdp_body(&response),
                            };
                            self.emit(event).await;
                        }
                        continue;
                    }
                    match self.core.handle_final(&response) {
                        InviteOutcome::Send(text) if !hangup => {
                            debug!(call_id = %self.core.call_id(), code = response.code, "answering the challenge");
                            match self.inner().start_client(&text, self.target).await {
                                Ok(tx) => {
                                    read_responses(
                                        self.inner().clone(),
                                        tx,
                                        self.responses_tx.clone(),
                                    );
                                    may_cancel = false;
                                }
                                Err(r) => return status_text(r.code, &r.reason),
                            }
                        }
                        InviteOutcome::Send(_) => {
                            return status_text(response.code, &response.reason)
                        }
                        InviteOutcome::Failed { reason } => {
                            // A 408 after a provisional response may be rsipstack's Timer C
                            // (3 minutes of ringing): the callee may still ring, cancel it.
                            if response.code == 408 && may_cancel && cancel_deadline.is_none() {
                                self.cancel();
                            }
                            return reason;
                        }
                        InviteOutcome::Answered => {
                            if hangup {
                                // The CANCEL crossed the 2xx: the call is up, end it.
                                return self.bye().await;
                            }
                            let event = CallEvent::Answered {
                                sdp: sdp_body(&response),
                                headers: response.headers.clone(),
                            };
                            self.emit(event).await;
                            break;
                        }
                    }
                }
                Some(request) = self.dialog.recv() => {
                    let InDialog::Bye = request else {
                        if let InDialog::Reinvite(r) = request {
                            // RFC 3261 §14.2: an offer of ours is still pending.
                            r.reject(491);
                        }
                        continue;
                    };
                    // A BYE in the early dialog ends the call; the INVITE is cancelled.
                    if may_cancel && cancel_deadline.is_none() {
                        self.cancel();
                    }
                    return "200 Received early BYE".into();
                }
                _ = cancel_timeout => return "487 Request Terminated".into(),
            }
        }
        // Confirmed: until either side hangs up.
        loop {
            tokio::select! {
                _ = &mut stop => return self.bye().await,
                Some(request) = self.dialog.recv() => match request {
                    InDialog::Bye => return "200 Received BYE".into(),
                    InDialog::Reinvite(mut r) => {
                        r.contact = self.core.contact_uri();
                        self.emit(CallEvent::Reoffer(r)).await;
                    }
                    InDialog::Message(m) => self.emit(CallEvent::Message(m)).await,
                },
                Some(m) = self.message.recv() => {
                    let event = self.send_message(m).await;
                    self.emit(event).await;
                }
                Some(body) = self.info.recv() => self.send_info(&body).await,
                Some(sdp) = self.reinvite.recv() => {
                    let event = self.send_reinvite(&sdp).await;
                    self.emit(event).await;
                }
            }
        }
    }

    /// Sends a re-INVITE in the dialog (answering one 401/407 with a new CSeq) and waits for
    /// its final response; rsipstack ACKs a 2xx.
    async fn send_reinvite(&mut self, sdp: &str) -> CallEvent {
        let failed = |code: u16, reason: &str| CallEvent::Reanswered {
            code,
            reason: reason.into(),
            sdp: None,
        };
        let Some(hop) = self.core.next_hop().map(str::to_string) else {
            return failed(500, "Internal Server Error");
        };
        let target = match self.ua.resolve_next_hop(&hop).await {
            Ok(t) => t,
            Err(e) => {
                warn!(call_id = %self.core.call_id(), %hop, error = %e, "cannot route the re-INVITE");
                return failed(503, "Service Unavailable");
            }
        };
        let Some(mut text) = self.core.reinvite(target.transport, sdp) else {
            return failed(500, "Internal Server Error");
        };
        info!(call_id = %self.core.call_id(), %target, "sending a re-INVITE");
        let mut challenged = false;
        'attempt: loop {
            let tx = match self.inner().start_client(&text, target).await {
                Ok(tx) => tx,
                Err(r) => return failed(r.code, &r.reason),
            };
            let (out, mut responses) = mpsc::unbounded_channel();
            read_responses(self.inner().clone(), tx, out);
            while let Some(r) = responses.recv().await {
                if r.code < 200 {
                    continue;
                }
                if matches!(r.code, 401 | 407) && !challenged {
                    challenged = true;
                    if let Some(next) = self.core.reinvite_challenge(&r, target.transport, sdp) {
                        debug!(call_id = %self.core.call_id(), code = r.code, "answering the re-INVITE's challenge");
                        text = next;
                        continue 'attempt;
                    }
                }
                return CallEvent::Reanswered {
                    code: r.code,
                    sdp: sdp_body(&r),
                    reason: r.reason,
                };
            }
            return failed(408, "Request Timeout");
        }
    }

    /// Sends a CPIM-wrapped MESSAGE in the dialog (answering one 401/407) and returns its
    /// final response as [`CallEvent::MessageSent`].
    async fn send_message(&mut self, m: OutMessage) -> CallEvent {
        let done = |code: u16, reason: &str| CallEvent::MessageSent {
            message_id: m.message_id.clone(),
            timestamp: m.timestamp.clone(),
            code,
            reason: reason.into(),
        };
        let Some(hop) = self.core.next_hop().map(str::to_string) else {
            return done(500, "Internal Server Error");
        };
        let target = match self.ua.resolve_next_hop(&hop).await {
            Ok(t) => t,
            Err(e) => {
                warn!(call_id = %self.core.call_id(), %hop, error = %e, "cannot route the MESSAGE");
                return done(503, "Service Unavailable");
            }
        };
        let (from, to) = self.core.parties();
        let body = super::cpim::build(&super::cpim::CpimOut {
            from: &from,
            to: &to,
            timestamp: &m.timestamp,
            message_id: &m.message_id,
            content_type: &m.content_type,
            content: &m.content,
        });
        let Some(mut text) = self
            .core
            .message(target.transport, super::cpim::CPIM, &body, None)
        else {
            return done(500, "Internal Server Error");
        };
        let mut challenged = false;
        loop {
            let r = self.inner().transact(&text, target).await;
            debug!(call_id = %self.core.call_id(), code = r.code, "MESSAGE answered");
            if matches!(r.code, 401 | 407) && !challenged {
                challenged = true;
                if let Some(next) =
                    self.core
                        .message(target.transport, super::cpim::CPIM, &body, Some(&r))
                {
                    text = next;
                    continue;
                }
            }
            return done(r.code, &r.reason);
        }
    }

    /// Sends one INFO in the dialog and waits for its final response (logged).
    async fn send_info(&mut self, body: &str) {
        let Some(hop) = self.core.next_hop().map(str::to_string) else {
            return;
        };
        let target = match self.ua.resolve_next_hop(&hop).await {
            Ok(t) => t,
            Err(e) => {
                warn!(call_id = %self.core.call_id(), %hop, error = %e, "cannot route the INFO");
                return;
            }
        };
        let Some(text) = self.core.info(target.transport, DTMF_RELAY, body) else {
            return;
        };
        let r = self.inner().transact(&text, target).await;
        info!(call_id = %self.core.call_id(), code = r.code, "INFO answered");
    }

    /// Sends the CANCEL of the INVITE in flight (in the background: its answer does not
    /// matter, the INVITE's 487 does).
    fn cancel(&self) {
        let text = self.core.cancel();
        let inner = self.inner().clone();
        let target = self.target;
        let call_id = self.core.call_id().to_string();
        info!(%call_id, "cancelling the call");
        tokio::spawn(async move {
            let r = inner.transact(&text, target).await;
            debug!(%call_id, code = r.code, "CANCEL answered");
        });
    }

    /// Sends the BYE (answering one challenge) and returns `<code> to BYE`.
    async fn bye(&mut self) -> String {
        let Some(hop) = self.core.next_hop().map(str::to_string) else {
            return "500 Internal Server Error".into();
        };
        let target = match self.ua.resolve_next_hop(&hop).await {
            Ok(t) => t,
            Err(e) => {
                warn!(call_id = %self.core.call_id(), %hop, error = %e, "cannot route the BYE");
                return "503 to BYE".into();
            }
        };
        let Some(mut text) = self.core.bye(target.transport) else {
            return "500 Internal Server Error".into();
        };
        info!(call_id = %self.core.call_id(), %target, "hanging up");
        loop {
            let r = self.inner().transact(&text, target).await;
            match self.core.bye_challenge(&r, target.transport) {
                Some(next) => text = next,
                None => return format!("{} to BYE", r.code),
            }
        }
    }

    async fn emit(&self, event: CallEvent) {
        let _ = self.events.send(CallUpdate { id: self.id, event }).await;
    }
}
