//! Incoming calls: an INVITE outside any dialog whose Request-URI carries the `gw` token of
//! one of our bindings goes to the owner of that binding (see [`SipUa::route_incoming`]).
//!
//! ```text
//! INVITE ──▶ (owner known) IncomingEvent::Invite{..}       (unknown binding: 404, no owner: 480)
//! ringing()  ──▶ 180 Ringing
//! answer(sdp) ──▶ 200 OK (Contact, SDP) ──▶ ACK expected
//! reject(code) ──▶ <code> ──▶ Ended "<code> <reason>"
//! CANCEL before the answer ──▶ (200 to the CANCEL by rsipstack) 487 ──▶ Ended{missed}
//! BYE from the caller ──▶ (200 by the user agent) Ended "200 Received BYE"
//! hangup() / handle dropped after the answer ──▶ BYE ──▶ Ended "<code> to BYE"
//! ```
//!
//! The server transaction is read by a task of its own (`receive` is not cancel-safe; it also
//! runs the responses sent through the transaction's `Respond` events); the call task selects
//! over what that reader forwards (CANCEL, ACK), the owner's commands and the in-dialog
//! requests the user agent routes to the call by Call-ID and To tag.

use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsipstack::sip::{Header, Method, SipMessage, StatusCode};
use rsipstack::transaction::transaction::TransactionEvent;
use rsipstack::transaction::Transaction;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::call::{CallRoute, InDialog};
use super::invite::{entry_uri, header_param};
use super::register::{random_token, split_contacts, status_text};
use super::ua::{LiveTask, SipUa};

/// What the owner of a binding hears about an incoming call (keyed by Call-ID).
#[derive(Debug)]
pub struct IncomingUpdate {
    pub call_id: String,
    pub event: IncomingEvent,
}

#[derive(Debug)]
pub enum IncomingEvent {
    /// A new call for the binding's account.
    Invite(Box<IncomingInvite>),
    /// The call is over. `missed`: the caller cancelled before the answer.
    Ended { reason: String, missed: bool },
    /// A re-INVITE of the caller after the answer: the owner answers it.
    Reoffer(Box<super::call::Reinvite>),
    /// A MESSAGE of the caller in the dialog (already answered 200).
    Message(super::call::SipMessageIn),
    /// The final response to our re-INVITE ([`IncomingCall::reinvite`]), already ACKed when
    /// 2xx: `<code> <reason>` and its SDP.
    Reanswered {
        code: u16,
        reason: String,
        sdp: Option<String>,
    },
    /// The final response to our MESSAGE ([`IncomingCall::message`]).
    MessageSent {
        message_id: String,
        timestamp: String,
        code: u16,
        reason: String,
    },
}

/// A new incoming call.
#[derive(Debug)]
pub struct IncomingInvite {
    /// The account of the binding.
    pub account: String,
    /// The caller's URI (From), with its scheme.
    pub from_uri: String,
    pub display_name: Option<String>,
    /// Every header of the INVITE, in order.
    pub headers: Vec<(String, String)>,
    /// The INVITE's body when it is an SDP.
    pub sdp: Option<String>,
    pub call: IncomingCall,
}

/// The owner's handle on an incoming call; dropping every clone of it declines (480) or
/// hangs up (BYE).
#[derive(Debug, Clone)]
pub struct IncomingCall {
    commands: mpsc::UnboundedSender<Command>,
}

#[derive(Debug)]
enum Command {
    Ringing,
    Answer(String),
    Reject(u16),
    Hangup,
    Info(String),
    Reinvite(String),
    Message(super::call::OutMessage),
    Credentials(String, super::register::Ha1),
}

impl IncomingCall {
    /// Sends 180 Ringing.
    pub fn ringing(&self) {
        let _ = self.commands.send(Command::Ringing);
    }
    /// Sends 200 OK with `sdp`.
    pub fn answer(&self, sdp: String) {
        let _ = self.commands.send(Command::Answer(sdp));
    }
    /// The account's digest username and HA1, to answer a 401/407 to our requests in the
    /// dialog (re-INVITE, MESSAGE, INFO, BYE).
    pub fn credentials(&self, user: String, ha1: super::register::Ha1) {
        let _ = self.commands.send(Command::Credentials(user, ha1));
    }
    /// Declines with `code` (before the answer).
    pub fn reject(&self, code: u16) {
        let _ = self.commands.send(Command::Reject(code));
    }
    /// Sends one DTMF tone as an INFO in the dialog (after the answer).
    pub fn dtmf(&self, signal: char, duration_ms: u32) {
        let _ = self
            .commands
            .send(Command::Info(super::call::dtmf_relay_body(
                signal,
                duration_ms,
            )));
    }

    /// Ends the call: declines with 480 before the answer, BYE after it.
    pub fn hangup(&self) {
        let _ = self.commands.send(Command::Hangup);
    }

    /// Sends a re-INVITE with `sdp` toward the caller (after the answer); its final response
    /// comes as [`IncomingEvent::Reanswered`].
    pub fn reinvite(&self, sdp: String) {
        let _ = self.commands.send(Command::Reinvite(sdp));
    }

    /// Sends a CPIM-wrapped MESSAGE toward the caller (after the answer); its final response
    /// comes as [`IncomingEvent::MessageSent`].
    pub fn message(&self, message: super::call::OutMessage) {
        let _ = self.commands.send(Command::Message(message));
    }
}

/// The session id sylkRTC uses for an incoming call: md5(Call-ID) as 8-4-4-4-12 hex.
pub fn session_id(call_id: &str) -> String {
    let d = Md5::digest(call_id.as_bytes());
    let h: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The caller's URI and display name from a From value.
pub fn parse_from(value: &str) -> (String, Option<String>) {
    let uri = entry_uri(value).to_string();
    let display = value
        .find('<')
        .map(|i| value[..i].trim().trim_matches('"').trim().to_string())
        .filter(|d| !d.is_empty());
    (uri, display)
}

impl SipUa {
    /// Incoming calls for the binding `token` go to `owner` (until it is closed or replaced).
    pub fn route_incoming(&self, token: &str, owner: mpsc::Sender<IncomingUpdate>) {
        self.inner
            .incoming
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), owner);
    }
}

/// An INVITE that found no live connection of its account (the application may wake the
/// account's devices by push).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedInvite {
    /// The To AOR, without scheme (`alice@example.com`).
    pub account: String,
    /// The caller's URI (From), with its scheme, and display name.
    pub from_uri: String,
    pub display_name: Option<String>,
    pub call_id: String,
    /// The offer has a video stream.
    pub video: bool,
}

impl SipUa {
    /// INVITEs for no live connection are reported to `sink` from now on.
    pub fn route_missed_invites(&self, sink: mpsc::Sender<MissedInvite>) {
        *self.inner.missed.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }
}

fn notice_missed(ua: &SipUa, request: &rsipstack::sip::Request) {
    let Some(sink) = ua
        .inner
        .missed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    else {
        return;
    };
    let (mut from, mut to, mut call_id) = (String::new(), String::new(), String::new());
    for header in request.headers.iter() {
        match header {
            Header::From(v) => from = v.value().to_string(),
            Header::To(v) => to = v.value().to_string(),
            Header::CallId(v) => call_id = v.value().trim().to_string(),
            _ => {}
        }
    }
    let to_uri = entry_uri(&to);
    let account = to_uri
        .strip_prefix("sip:")
        .or_else(|| to_uri.strip_prefix("sips:"))
        .unwrap_or(to_uri)
        .split([';', '?'])
        .next()
        .unwrap_or("")
        .to_string();
    if account.is_empty() {
        return;
    }
    let (from_uri, display_name) = parse_from(&from);
    let body = String::from_utf8_lossy(&request.body);
    let video = body
        .lines()
        .any(|l| l.starts_with("m=video ") && !l.starts_with("m=video 0 "));
    let _ = sink.try_send(MissedInvite {
        account,
        from_uri,
        display_name,
        call_id,
        video,
    });
}

/// Serves a new INVITE (no To tag): finds the owner of the binding, or answers 404/480.
pub(crate) async fn serve_invite(
    ua: SipUa,
    mut tx: Transaction,
    source: Option<std::net::SocketAddr>,
) {
    let trusted = source.is_some_and(|s| ua.inner.sources.trusts(s.ip()));
    let uri = tx.original.uri.to_string();
    let token = super::register::contact_token(&uri).map(str::to_string);
    let account = token.as_ref().and_then(|t| {
        ua.inner
            .contacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(t)
            .cloned()
    });
    let owner = token.as_ref().and_then(|t| {
        ua.inner
            .incoming
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(t)
            .filter(|o| !o.is_closed())
            .cloned()
    });
    // A room of a conference domain (no binding token): the conference owner takes it.
    let conference = match token {
        None => ua.conference_for(&uri),
        Some(_) => None,
    };
    let (account, owner) = match conference {
        Some((room, conference_owner)) => (Some(room), Some(conference_owner)),
        None => (account, owner),
    };
    if account.is_none() {
        if let Some(t) = &token {
            // The binding is gone: so is its owner.
            ua.inner
                .incoming
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(t);
        }
    }
    let (Some(account), Some(owner)) = (account.clone(), owner) else {
        let status = if account.is_some() {
            StatusCode::TemporarilyUnavailable
        } else {
            StatusCode::NotFound
        };
        debug!(%uri, %status, source = ?source, "INVITE for no live binding");
        // Waking the account's devices acts in its name: only for a trusted source (the
        // proxy that forks INVITEs to the gateway), never for anyone who can reach the port.
        if trusted {
            notice_missed(&ua, &tx.original);
        }
        if let Err(e) = tx.reply(status).await {
            info!(error = %e, "cannot answer an INVITE");
        }
        // Retransmitting the failure until an ACK (Timer G) is for real callers; to a source
        // we do not know it would turn us into an amplifier toward whoever the request named.
        if trusted {
            drain(tx).await;
        }
        return;
    };
    let mut headers = Vec::new();
    let (mut call_id, mut from, mut content_type) = (String::new(), String::new(), None);
    for header in tx.original.headers.iter() {
        let (name, value) = (header.name().to_string(), header.value().to_string());
        match header {
            Header::CallId(_) => call_id = value.trim().to_string(),
            Header::From(_) => from = value.clone(),
            Header::ContentType(_) => content_type = Some(value.trim().to_ascii_lowercase()),
            _ => {}
        }
        headers.push((name, value));
    }
    let body = String::from_utf8_lossy(&tx.original.body).into_owned();
    let sdp = match content_type.as_deref() {
        Some(t) if t.starts_with("application/sdp") => Some(body),
        None if body.trim_start().starts_with("v=") => Some(body),
        _ => None,
    };
    let (from_uri, display_name) = parse_from(&from);
    // Our tag, the same in every response.
    let local_tag = random_token(&mut StdRng::seed_from_u64(rand::random()), 12);
    let to = tx.original.headers.iter().find_map(|h| match h {
        Header::To(v) => Some(v.value().to_string()),
        _ => None,
    });
    if let Some(to) = to {
        let tagged = format!("{to};tag={local_tag}");
        tx.original
            .headers
            .unique_push(Header::To(rsipstack::sip::headers::To::new(tagged)));
    }
    let (dialog_tx, dialog_rx) = mpsc::unbounded_channel();
    ua.inner
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            call_id.clone(),
            CallRoute {
                local_tag: local_tag.clone(),
                tx: dialog_tx,
            },
        );
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (reader_tx, reader_rx) = mpsc::unbounded_channel();
    let respond = tx.tu_sender.clone();
    let original = tx.original.clone();
    let endpoint = tx.endpoint_inner.clone();
    tokio::spawn(async move {
        while let Some(message) = tx.receive().await {
            if let SipMessage::Request(r) = message {
                let _ = reader_tx.send(r.method);
            }
        }
    });
    info!(%account, %call_id, from = %from_uri, "incoming call");
    let invite = IncomingInvite {
        account: account.clone(),
        from_uri,
        display_name,
        headers,
        sdp,
        call: IncomingCall {
            commands: commands_tx,
        },
    };
    let task = Task {
        live: ua.inner.task_started(),
        ua: ua.clone(),
        call_id: call_id.clone(),
        local_tag,
        original,
        endpoint,
        respond,
        owner,
        uri,
        cseq: 0,
        credentials: None,
    };
    let update = IncomingUpdate {
        call_id,
        event: IncomingEvent::Invite(Box::new(invite)),
    };
    if task.owner.send(update).await.is_err() {
        task.reply(StatusCode::TemporarilyUnavailable, None);
    }
    tokio::spawn(task.run(commands_rx, reader_rx, dialog_rx));
}

/// Reads a transaction to its end (so its responses and timers run).
async fn drain(mut tx: Transaction) {
    tokio::spawn(async move { while tx.receive().await.is_some() {} });
}

struct Task {
    live: LiveTask,
    ua: SipUa,
    call_id: String,
    local_tag: String,
    /// The INVITE, with our To tag.
    original: rsipstack::sip::Request,
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    respond: rsipstack::transaction::transaction::TransactionEventSender,
    owner: mpsc::Sender<IncomingUpdate>,
    /// The INVITE's Request-URI: our Contact.
    uri: String,
    cseq: u32,
    /// Digest username and HA1 for challenges to our in-dialog requests.
    credentials: Option<(String, super::register::Ha1)>,
}

impl Task {
    fn reply(&self, status: StatusCode, sdp: Option<String>) {
        let body = sdp.map(String::into_bytes);
        let has_body = body.is_some();
        let mut response = self.endpoint.make_response(&self.original, status, body);
        let code = response.status_code.code();
        if (101..300).contains(&code) {
            // The dialog's route set (RFC 3261 §12.1.1).
            for header in self.original.headers.iter() {
                if let Header::RecordRoute(_) = header {
                    response.headers.push(header.clone());
                }
            }
        }
        if code == 200 {
            response
                .headers
                .push(Header::Other("Contact".into(), format!("<{}>", self.uri)));
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
        let _ = self.respond.send(TransactionEvent::Respond(response));
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut reader: mpsc::UnboundedReceiver<Method>,
        mut dialog: mpsc::UnboundedReceiver<InDialog>,
    ) {
        let (reason, missed) = self.drive(&mut commands, &mut reader, &mut dialog).await;
        info!(call_id = %self.call_id, %reason, "incoming call ended");
        self.ua
            .inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.call_id);
        let update = IncomingUpdate {
            call_id: self.call_id.clone(),
            event: IncomingEvent::Ended { reason, missed },
        };
        let _ = self.owner.send(update).await;
        drop(self.live);
    }

    async fn drive(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        reader: &mut mpsc::UnboundedReceiver<Method>,
        dialog: &mut mpsc::UnboundedReceiver<InDialog>,
    ) -> (String, bool) {
        let mut answered = false;
        let mut reader_open = true;
        let setup_deadline = tokio::time::Instant::now() + self.ua.inner.config.call_setup_timeout;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(setup_deadline), if !answered => {
                    info!(call_id = %self.call_id, "not answered within the call setup timeout: declining");
                    self.reply(StatusCode::TemporarilyUnavailable, None);
                    return ("408 Request Timeout".into(), true);
                }
                command = commands.recv() => match command {
                    Some(Command::Ringing) if !answered => self.reply(StatusCode::Ringing, None),
                    Some(Command::Answer(sdp)) if !answered => {
                        answered = true;
                        self.reply(StatusCode::OK, Some(sdp));
                    }
                    Some(Command::Reject(code)) if !answered => {
                        let status = StatusCode::from(code);
                        let reason = status_text(code, status.text());
                        self.reply(status, None);
                        return (reason, false);
                    }
                    None | Some(Command::Hangup) if !answered => {
                        self.reply(StatusCode::TemporarilyUnavailable, None);
                        return ("480 Temporarily Unavailable".into(), false);
                    }
                    None | Some(Command::Hangup) => {
                        let r = self.request("BYE", None).await;
                        return (format!("{r} to BYE"), false);
                    }
                    Some(Command::Info(body)) => {
                        let r = self.request("INFO", Some((super::call::DTMF_RELAY, &body))).await;
                        debug!(call_id = %self.call_id, code = r, "INFO answered");
                    }
                    Some(Command::Reinvite(sdp)) if answered => {
                        let event = self.send_reinvite(&sdp).await;
                        self.emit(event).await;
                    }
                    Some(Command::Reinvite(_)) => {
                        let event = IncomingEvent::Reanswered {
                            code: 491,
                            reason: "Request Pending".into(),
                            sdp: None,
                        };
                        self.emit(event).await;
                    }
                    Some(Command::Message(m)) => {
                        let event = self.send_message(m, answered).await;
                        self.emit(event).await;
                    }
                    Some(Command::Credentials(user, ha1)) => self.credentials = Some((user, ha1)),
                    Some(_) => {}
                },
                method = reader.recv(), if reader_open => match method {
                    Some(Method::Cancel) if !answered => {
                        self.reply(StatusCode::RequestTerminated, None);
                        return ("487 Request Terminated".into(), true);
                    }
                    Some(_) => {}
                    // The transaction ended (no ACK, or done): wait for the rest.
                    None => {
                        if !answered {
                            return ("408 Request Timeout".into(), false);
                        }
                        reader_open = false;
                    }
                },
                Some(request) = dialog.recv() => match request {
                    InDialog::Bye => return ("200 Received BYE".into(), !answered),
                    InDialog::Reinvite(mut r) => {
                        if !answered {
                            r.reject(491);
                            continue;
                        }
                        r.contact = self.uri.clone();
                        let update = IncomingUpdate {
                            call_id: self.call_id.clone(),
                            event: IncomingEvent::Reoffer(r),
                        };
                        let _ = self.owner.send(update).await;
                    }
                    InDialog::Message(m) => {
                        let update = IncomingUpdate {
                            call_id: self.call_id.clone(),
                            event: IncomingEvent::Message(m),
                        };
                        let _ = self.owner.send(update).await;
                    }
                },
            }
        }
    }

    async fn emit(&self, event: IncomingEvent) {
        let update = IncomingUpdate {
            call_id: self.call_id.clone(),
            event,
        };
        let _ = self.owner.send(update).await;
    }

    /// Our re-INVITE toward the caller; its final response (rsipstack ACKs a 2xx). One 401/407
    /// is answered with the account's credentials.
    async fn send_reinvite(&mut self, sdp: &str) -> IncomingEvent {
        let failed = |code: u16, reason: &str| IncomingEvent::Reanswered {
            code,
            reason: reason.into(),
            sdp: None,
        };
        let body = Some(("application/sdp", sdp));
        let mut authorization = None;
        loop {
            let (text, target, ruri) =
                match self.prepare("INVITE", body, authorization.as_ref()).await {
                    Ok(prepared) => prepared,
                    Err(code) => return failed(code, "Service Unavailable"),
                };
            info!(call_id = %self.call_id, %target, "sending a re-INVITE toward the caller");
            let tx = match self.ua.inner.start_client(&text, target).await {
                Ok(tx) => tx,
                Err(r) => return failed(r.code, &r.reason),
            };
            let (out, mut responses) = mpsc::unbounded_channel();
            super::call::read_responses(self.ua.inner.clone(), tx, out);
            let mut last = None;
            while let Some(r) = responses.recv().await {
                if r.code >= 200 {
                    last = Some(r);
                    break;
                }
            }
            let Some(r) = last else {
                return failed(408, "Request Timeout");
            };
            if authorization.is_none() {
                if let Some(a) = self.answer_challenge(&r, "INVITE", &ruri, sdp) {
                    debug!(call_id = %self.call_id, code = r.code, "answering the re-INVITE's challenge");
                    authorization = Some(a);
                    continue;
                }
            }
            return IncomingEvent::Reanswered {
                code: r.code,
                sdp: super::invite::sdp_body(&r),
                reason: r.reason,
            };
        }
    }

    /// The header answering a 401/407 to our request `method` to `ruri`, when the owner gave
    /// the account's credentials.
    fn answer_challenge(
        &self,
        r: &super::register::ResponseInfo,
        method: &str,
        ruri: &str,
        body: &str,
    ) -> Option<(String, String)> {
        let (user, ha1) = self.credentials.as_ref()?;
        let (values, header) = match r.code {
            401 => (&r.www_authenticate, "Authorization"),
            407 => (&r.proxy_authenticate, "Proxy-Authorization"),
            _ => return None,
        };
        let challenge = values
            .iter()
            .find_map(|v| super::digest::Challenge::parse(v).ok())?;
        let cnonce = random_token(&mut StdRng::seed_from_u64(rand::random()), 16);
        let value = super::digest::authorization(
            &challenge,
            user,
            &ha1.0,
            super::digest::RequestLine {
                method,
                uri: ruri,
                body: body.as_bytes(),
            },
            &cnonce,
        )
        .ok()?;
        Some((header.to_string(), value))
    }

    /// One non-INVITE request in the dialog, answering one 401/407; its final response.
    async fn transact(&mut self, method: &str, body: Option<(&str, &str)>) -> (u16, String) {
        let mut authorization = None;
        loop {
            let (text, target, ruri) =
                match self.prepare(method, body, authorization.as_ref()).await {
                    Ok(prepared) => prepared,
                    Err(code) => return (code, "Service Unavailable".into()),
                };
            let r = self.ua.inner.transact(&text, target).await;
            if authorization.is_none() {
                let content = body.map(|(_, b)| b).unwrap_or("");
                if let Some(a) = self.answer_challenge(&r, method, &ruri, content) {
                    debug!(call_id = %self.call_id, %method, code = r.code, "answering a challenge");
                    authorization = Some(a);
                    continue;
                }
            }
            return (r.code, r.reason);
        }
    }

    /// Our CPIM-wrapped MESSAGE toward the caller; its final response.
    async fn send_message(&mut self, m: super::call::OutMessage, answered: bool) -> IncomingEvent {
        let mut from = String::new();
        let mut to = String::new();
        for header in self.original.headers.iter() {
            match header {
                Header::From(v) => to = entry_uri(v.value()).to_string(),
                Header::To(v) => from = entry_uri(v.value()).to_string(),
                _ => {}
            }
        }
        let body = super::cpim::build(&super::cpim::CpimOut {
            from: &from,
            to: &to,
            timestamp: &m.timestamp,
            message_id: &m.message_id,
            content_type: &m.content_type,
            content: &m.content,
        });
        let (code, reason) = if !answered {
            (491, "Request Pending".to_string())
        } else {
            self.transact("MESSAGE", Some((super::cpim::CPIM, &body)))
                .await
        };
        IncomingEvent::MessageSent {
            message_id: m.message_id,
            timestamp: m.timestamp,
            code,
            reason,
        }
    }

    /// Our request (BYE, or INFO with a DTMF relay body) in the dialog the INVITE created;
    /// returns the code of its final response.
    async fn request(&mut self, method: &str, body: Option<(&str, &str)>) -> u16 {
        self.transact(method, body).await.0
    }

    /// The text of an in-dialog request, where it goes and its Request-URI (`Err(503)` when it
    /// cannot be routed); `authorization` (header, value) answers a challenge.
    async fn prepare(
        &mut self,
        method: &str,
        body: Option<(&str, &str)>,
        authorization: Option<&(String, String)>,
    ) -> Result<(String, super::addr::Target, String), u16> {
        let mut from = String::new();
        let mut to = String::new();
        let mut contact = String::new();
        let mut routes: Vec<String> = Vec::new();
        for header in self.original.headers.iter() {
            let value = header.value().to_string();
            match header {
                Header::From(_) => to = value,
                Header::To(_) => from = value,
                Header::Contact(_) => {
                    contact = split_contacts(&value)
                        .first()
                        .map(|e| entry_uri(e).to_string())
                        .unwrap_or_default()
                }
                Header::RecordRoute(_) => {
                    routes.extend(split_contacts(&value).iter().map(|s| s.to_string()))
                }
                _ => {}
            }
        }
        if header_param(&from, "tag").is_none() {
            from = format!("{from};tag={}", self.local_tag);
        }
        let hop = routes
            .first()
            .map(|r| entry_uri(r).to_string())
            .unwrap_or(contact.clone());
        let target = match self.ua.resolve_next_hop(&hop).await {
            Ok(t) => t,
            Err(e) => {
                warn!(call_id = %self.call_id, %hop, error = %e, "cannot route an in-dialog request");
                return Err(503);
            }
        };
        self.cseq += 1;
        let mut host = String::new();
        super::register::push_host(&mut host, self.ua.local_ip_towards(target.addr));
        let transport = target.transport.via_name();
        let mut text = format!(
            "{method} {contact} SIP/2.0\r\nVia: SIP/2.0/{transport} {host}:{port};rport{alias};branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\n",
            port = self.ua.local_addr().port(),
            alias = target.transport.via_params(),
            branch = random_token(&mut StdRng::seed_from_u64(rand::random()), 16),
        );
        for r in &routes {
            text.push_str(&format!("Route: {r}\r\n"));
        }
        text.push_str(&format!(
            "From: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n",
            self.call_id, self.cseq
        ));
        if method == "INVITE" {
            text.push_str(&format!(
                "Contact: <{}>\r\nAllow: {}\r\n",
                self.uri,
                super::invite::ALLOW
            ));
        }
        if let Some((name, value)) = authorization {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        match body {
            Some((content_type, body)) => text.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )),
            None => text.push_str("Content-Length: 0\r\n\r\n"),
        }
        info!(call_id = %self.call_id, %target, %method, "in-dialog request of an incoming call");
        Ok((text, target, contact))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_is_md5_of_the_call_id_as_a_uuid() {
        // md5("abc") = 900150983cd24fb0d6963f7d28e17f72
        assert_eq!(session_id("abc"), "90015098-3cd2-4fb0-d696-3f7d28e17f72");
    }

    #[test]
    fn from_gives_uri_and_display_name() {
        assert_eq!(
            parse_from("\"Bob Caller\" <sip:bob@example.com>;tag=1"),
            ("sip:bob@example.com".into(), Some("Bob Caller".into()))
        );
        assert_eq!(
            parse_from("<sip:bob@example.com>;tag=1"),
            ("sip:bob@example.com".into(), None)
        );
        assert_eq!(
            parse_from("sip:bob@example.com;tag=1"),
            ("sip:bob@example.com".into(), None)
        );
    }
}
