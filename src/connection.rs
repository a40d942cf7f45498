//! The state of one WebSocket connection and the handlers of its requests.
//!
//! A [`Connection`] runs as its own task and takes the connection's valid requests from a
//! FIFO, one at a time, so a trickle sent right after a `session-create` always finds its
//! session. Each request ends with exactly one `ack` or `error`. Accounts and sessions belong
//! to the connection that created them; when it closes they are forgotten.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use media::{MediaEvent, PeerId};
use signaling::rate::TokenBucket;
use signaling::sip::{self, RegistrationUpdate};
use signaling::sylkrtc::{self, AccountEvent, Event, Request, Secret};
use tokio::sync::{mpsc, Notify};
use tracing::{error, info, warn};

use crate::access::{Requirement, Standing};
use crate::cluster::remote::Remote;
use crate::cluster::wire::{RelayedAccount, Wire};
use crate::cluster::Placement;
use crate::server::App;
use crate::videoroom::{Feed, PeerOwner, RoomSession};

/// One thing for the worker to do.
enum Work {
    Media(MediaEvent),
    Registration(RegistrationUpdate),
    CallMedia(MediaEvent),
    Call(sip::CallUpdate),
    Incoming(sip::IncomingUpdate),
    Request(Queued),
    Order(Order),
}

/// A valid request queued for the worker, with its text (relayed as is when its room is
/// held by another node of a cluster).
#[derive(Debug)]
pub struct Queued {
    pub request: Request,
    /// The request as it came; kept (non-empty) for room requests on a cluster node only.
    pub text: String,
    /// Set by the relay only: the account the request acts for, added before it is handled.
    pub account: Option<RelayedAccount>,
}

/// What the operator (the admin API, a drain) asks of a connection.
#[derive(Debug)]
pub enum Order {
    /// End a room participant: its session is `terminated` and leaves the room.
    LeaveRoom(String),
    /// Hang up a 1:1 call (BYE or CANCEL toward SIP); the client gets `terminated`.
    EndCall(String),
    /// Close the connection (going away): what it held is released as on any close.
    Close,
    /// Report the connection's calls.
    Calls(tokio::sync::oneshot::Sender<Vec<crate::calls::CallSummary>>),
    /// The room sessions relayed to this node of the cluster are over (it died, or its
    /// relayed connection failed).
    NodeGone(String),
}

/// Orders queued for one connection.
pub const ORDERS: usize = 16;

/// What a panic said, for the log.
pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// What the connection's socket task sends to the client.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
    /// The worker failed (a panic while handling a request or an event): close with 1011.
    Failed,
    /// The operator closed the connection: close with 1001.
    Closed,
}

/// How other connections and rooms reach this connection without waiting on it.
#[derive(Clone)]
pub struct ConnHandle {
    pub id: u64,
    /// The client's IP (1:1 file uploads must come from where the sender is connected).
    pub peer: std::net::IpAddr,
    out: mpsc::Sender<Outbound>,
    orders: mpsc::Sender<Order>,
    /// Notified when this connection must be closed (it fell behind).
    pub kick: Arc<Notify>,
}

impl ConnHandle {
    pub fn new(
        id: u64,
        peer: std::net::IpAddr,
        out: mpsc::Sender<Outbound>,
        orders: mpsc::Sender<Order>,
    ) -> Self {
        ConnHandle {
            id,
            peer,
            out,
            orders,
            kick: Arc::new(Notify::new()),
        }
    }

    /// Queues an order for the connection's worker; false when it is gone or has too many.
    pub fn order(&self, order: Order) -> bool {
        self.orders.try_send(order).is_ok()
    }

    /// Queues an order that must not be lost to a full queue: a task of its own waits for
    /// room (the order is dropped only when the connection is gone).
    pub fn order_surely(&self, order: Order) {
        if let Err(mpsc::error::TrySendError::Full(order)) = self.orders.try_send(order) {
            let orders = self.orders.clone();
            tokio::spawn(async move {
                let _ = orders.send(order).await;
            });
        }
    }

    /// Queues an event for the client. A client whose outbox is full is too slow to keep up:
    /// it is disconnected rather than allowed to hold up the sender.
    pub fn deliver(&self, text: String) {
        match self.out.try_send(Outbound::Text(text)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(conn = self.id, "outbox full, disconnecting the slow client");
                self.kick.notify_one();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// A request failure as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A failure the protocol describes: its text goes to the client as is.
    #[error("{0}")]
    Api(String),
    /// A refusal by one of the limits (logged apart, once a second): its text goes to the
    /// client as is.
    #[error("{0}")]
    Limit(String),
    /// Anything else: logged in full, the client gets `Internal error`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn api(text: impl Into<String>) -> Self {
        ApiError::Api(text.into())
    }

    /// A media engine failure as the client sees it (`Invalid SDP: ...`).
    pub(crate) fn media(e: media::MediaError) -> Self {
        match e {
            media::MediaError::BadSdp(detail) => ApiError::Api(format!("Invalid SDP: {detail}")),
            media::MediaError::EngineGone => ApiError::Internal("media engine is gone".into()),
            media::MediaError::Failed => {
                ApiError::Internal("the media engine failed on this request".into())
            }
            other => ApiError::Api(other.to_string()),
        }
    }

    pub fn client_text(&self) -> String {
        match self {
            ApiError::Api(t) | ApiError::Limit(t) => t.clone(),
            ApiError::Internal(_) => "Internal error".into(),
        }
    }
}

type Result<T = ()> = std::result::Result<T, ApiError>;

/// Push parameters from `account-devicetoken`, used at the next registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactParams {
    pub app: String,
    pub token: String,
    pub platform: String,
    pub device: String,
    pub silent: bool,
}

/// An account as added on one connection.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    /// The HA1 (or plain password when the client opted out of HA1).
    pub password: Secret,
    pub display_name: Option<String>,
    pub user_agent: Option<String>,
    pub incoming_header_prefixes: Vec<String>,
    pub contact_params: Option<ContactParams>,
}

impl Account {
    /// The part after `@`, or `""` without one (as SylkServer's `partition('@')[2]`).
    pub fn domain(&self) -> &str {
        self.id.split_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

/// Features whose requests are validated, but whose function comes with later work.
const NO_CONFERENCE_FOCUS: &str =
    "Removing participants needs a SIP conference focus, which is not available yet";

pub struct Connection {
    pub id: u64,
    pub(crate) app: Arc<App>,
    out: mpsc::Sender<Outbound>,
    pub(crate) handle: ConnHandle,
    pub(crate) accounts: HashMap<String, Account>,
    /// Given to the media engine for this connection's peers.
    pub(crate) media_tx: mpsc::Sender<MediaEvent>,
    media_rx: mpsc::Receiver<MediaEvent>,
    pub(crate) room_sessions: HashMap<String, RoomSession>,
    pub(crate) feeds: HashMap<String, Feed>,
    pub(crate) peers: HashMap<PeerId, PeerOwner>,
    /// Events a handler produced that must follow its `ack` (for example `feed-attached`).
    pub(crate) after_ack: Vec<Event>,
    /// Work a handler started that must begin after its `ack` (sending a SIP MESSAGE whose
    /// outcome is reported by event).
    pub(crate) after_ack_tasks: Vec<crate::messaging::AfterAck>,
    /// SIP registrations by account, each with the id its updates carry (a newer
    /// `account-register` replaces the older one, whose late updates are then ignored).
    /// Dropping a registration removes its binding.
    registrations: HashMap<String, (u64, sip::Registration)>,
    next_registration: u64,
    sip_tx: mpsc::Sender<RegistrationUpdate>,
    sip_rx: mpsc::Receiver<RegistrationUpdate>,
    /// Outgoing 1:1 calls ([`crate::calls`]).
    pub(crate) calls: crate::calls::Calls,
    /// What the client may still send (`limits.request_rate`, `request_burst`)...
    requests: TokenBucket,
    /// ...and how many `account-register` of it (`limits.register_per_minute`).
    registers: TokenBucket,
    /// Refusals by a limit since the last log line about them (logged once a second).
    refusals: Refusals,
    /// The operator's orders ([`Order`]).
    orders: mpsc::Receiver<Order>,
    /// Room sessions held by other nodes of a cluster ([`crate::cluster`]).
    pub(crate) remote: Remote,
}

/// Refused requests, logged in one line a second rather than one line each.
#[derive(Default)]
struct Refusals {
    count: u64,
    logged: Option<Instant>,
}

/// Media events queued for one connection (they are few: connected/closed per peer).
const MEDIA_EVENTS: usize = 256;
/// Registration updates queued for one connection (a few per registration); a registration
/// task waits when it is full.
const SIP_EVENTS: usize = 64;

impl Connection {
    pub fn new(
        handle: ConnHandle,
        app: Arc<App>,
        out: mpsc::Sender<Outbound>,
        orders: mpsc::Receiver<Order>,
    ) -> Self {
        let (media_tx, media_rx) = mpsc::channel(MEDIA_EVENTS);
        let (sip_tx, sip_rx) = mpsc::channel(SIP_EVENTS);
        app.access.open(handle.clone());
        let limits = &app.config.limits;
        let now = Instant::now();
        let requests = TokenBucket::new(limits.request_rate, limits.request_burst, now);
        let registers = TokenBucket::new(
            f64::from(limits.register_per_minute) / 60.0,
            limits.register_per_minute,
            now,
        );
        Connection {
            id: handle.id,
            app,
            out,
            handle,
            accounts: HashMap::new(),
            media_tx,
            media_rx,
            room_sessions: HashMap::new(),
            feeds: HashMap::new(),
            peers: HashMap::new(),
            after_ack: Vec::new(),
            after_ack_tasks: Vec::new(),
            registrations: HashMap::new(),
            next_registration: 1,
            sip_tx,
            sip_rx,
            calls: Default::default(),
            requests,
            registers,
            refusals: Refusals::default(),
            orders,
            remote: Remote::default(),
        }
    }

    /// Handles requests in order, and media events between them, until the socket task goes.
    /// A panic while handling one of them ends this connection only: the client is told
    /// (close 1011), and what the connection held is released as on any other close.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Queued>) {
        loop {
            let work = tokio::select! {
                biased;
                _ = self.out.closed() => break,
                // This connection holds a sender of each channel, so they stay open.
                Some(event) = self.media_rx.recv() => Work::Media(event),
                Some(update) = self.sip_rx.recv() => Work::Registration(update),
                Some(event) = self.calls.media_rx.recv() => Work::CallMedia(event),
                Some(update) = self.calls.sip_rx.recv() => Work::Call(update),
                Some(update) = self.calls.incoming_rx.recv() => Work::Incoming(update),
                Some(order) = self.orders.recv() => Work::Order(order),
                request = requests.recv() => match request {
                    Some(request) => Work::Request(request),
                    None => break,
                },
            };
            let done = AssertUnwindSafe(self.work(work)).catch_unwind().await;
            if let Err(panic) = done {
                error!(conn = self.id, panic = %panic_text(&panic), "request handler panicked: closing the connection");
                let _ = self.out.try_send(Outbound::Failed);
                break;
            }
        }
        if AssertUnwindSafe(self.close()).catch_unwind().await.is_err() {
            error!(
                conn = self.id,
                "panic while releasing the connection's state"
            );
            self.app.access.close(self.id);
        }
    }

    async fn work(&mut self, work: Work) {
        match work {
            Work::Media(event) => self.media_event(event).await,
            Work::Registration(update) => self.registration_update(update).await,
            Work::CallMedia(event) => self.call_media_event(event).await,
            Work::Call(update) => self.call_update(update).await,
            Work::Incoming(update) => self.incoming_update(update).await,
            Work::Request(request) => self.dispatch(request).await,
            Work::Order(order) => self.order(order).await,
        }
    }

    async fn order(&mut self, order: Order) {
        match order {
            Order::LeaveRoom(session) => {
                info!(conn = self.id, %session, "removed from its room by the operator");
                let _ = self.videoroom_leave(&session).await;
            }
            Order::EndCall(session) => {
                info!(conn = self.id, %session, "call ended by the operator");
                let request = sylkrtc::SessionTerminateRequest {
                    transaction: String::new(),
                    session,
                };
                let _ = self.session_terminate(request).await;
            }
            Order::Close => {
                info!(conn = self.id, "closed by the operator");
                if self.out.try_send(Outbound::Closed).is_err() {
                    // The outbox is full: the socket task ends the connection all the same.
                    self.handle.kick.notify_one();
                }
            }
            Order::Calls(reply) => {
                let _ = reply.send(self.calls.summaries());
            }
            Order::NodeGone(node) => self.node_gone(&node).await,
        }
    }

    /// Forgets everything the connection held: calls are hung up, rooms are left, peers
    /// closed.
    async fn close(&mut self) {
        self.close_calls().await;
        self.close_links();
        let sessions: Vec<String> = self.room_sessions.keys().cloned().collect();
        for session in sessions {
            self.drop_room_session(&session).await;
        }
        for (_, feed) in self.feeds.drain() {
            self.app.engine.close(feed.peer).await;
        }
        self.app.access.close(self.id);
        if !self.registrations.is_empty() {
            info!(
                conn = self.id,
                registrations = self.registrations.len(),
                "unregistering the connection's accounts"
            );
            // Each dropped registration removes its binding in the background.
            self.registrations.clear();
        }
        if !self.accounts.is_empty() {
            info!(
                conn = self.id,
                accounts = self.accounts.len(),
                "forgetting the connection's accounts"
            );
        }
    }

    /// Queues an event for the client, never waiting: a client whose outbox is full is too
    /// slow and is disconnected (see [`ConnHandle::deliver`]).
    pub(crate) async fn send(&self, event: Event) {
        self.handle.deliver(event.to_json());
    }

    pub async fn dispatch(&mut self, queued: Queued) {
        let Queued {
            request,
            text,
            account,
        } = queued;
        if let Some(account) = account {
            self.add_relayed_account(account);
        }
        let kind = request.kind();
        let transaction = request.transaction().to_string();
        let delay = self.app.config.debug_request_delay_ms;
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        self.after_ack.clear();
        self.after_ack_tasks.clear();
        let result = match self.admit(&request) {
            Ok(()) => match self.relay(&request, text).await {
                // Answered by the room's node.
                Some(Ok(())) => return,
                Some(Err(e)) => Err(e),
                None => self.handle(request).await,
            },
            Err(e) => Err(e),
        };
        let event = match result {
            Ok(()) => Event::ack(transaction),
            Err(e) => {
                match &e {
                    ApiError::Api(text) => {
                        warn!(conn = self.id, request = kind, %transaction, error = %text, "request failed")
                    }
                    ApiError::Internal(detail) => {
                        warn!(conn = self.id, request = kind, %transaction, error = %detail, "request failed with an internal error")
                    }
                    // Logged by `refused`, once a second.
                    ApiError::Limit(_) => {}
                }
                self.after_ack.clear();
                self.after_ack_tasks.clear();
                Event::error(transaction, e.client_text())
            }
        };
        self.send(event).await;
        for event in std::mem::take(&mut self.after_ack) {
            self.send(event).await;
        }
        for task in std::mem::take(&mut self.after_ack_tasks) {
            tokio::spawn(task());
        }
    }

    /// The limits and the authorization rule ([`crate::access::requirement`]) of a request,
    /// checked before its handler runs.
    fn admit(&mut self, request: &Request) -> Result {
        let now = Instant::now();
        let limits = &self.app.config.limits;
        if !self.requests.take(now) {
            return Err(self.refused(
                now,
                format!(
                    "Too many requests: at most {} at once and {} per second",
                    limits.request_burst, limits.request_rate
                ),
            ));
        }
        if matches!(request, Request::AccountRegister(_)) && !self.registers.take(now) {
            return Err(self.refused(
                now,
                format!(
                    "Too many registrations: at most {} per minute",
                    limits.register_per_minute
                ),
            ));
        }
        match crate::access::requirement(request) {
            Requirement::None => Ok(()),
            Requirement::Authenticated(account) => self.authenticated_account(account).map(drop),
            Requirement::RoomSessionAuthenticated(session) => {
                match self.room_sessions.get(session) {
                    Some(rs) => self.authenticated_account(&rs.account.clone()).map(drop),
                    // The handler answers for an unknown session.
                    None => Ok(()),
                }
            }
        }
    }

    /// A request refused by a limit: its error, and a log line at most once a second.
    pub(crate) fn refused(&mut self, now: Instant, text: String) -> ApiError {
        self.refusals.count += 1;
        crate::metrics::refused("requests");
        let due = self
            .refusals
            .logged
            .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(1));
        if due {
            warn!(conn = self.id, refused = self.refusals.count, limit = %text, "requests refused by a limit");
            self.refusals = Refusals {
                count: 0,
                logged: Some(now),
            };
        }
        ApiError::Limit(text)
    }

    pub(crate) fn account(&self, id: &str) -> Result<&Account> {
        self.accounts
            .get(id)
            .ok_or_else(|| ApiError::api(format!("Unknown account specified: {id}")))
    }

    /// The account, which must have been authenticated (registered) on this connection.
    pub(crate) fn authenticated_account(&self, id: &str) -> Result<&Account> {
        let account = self.account(id)?;
        if self.app.access.standing(self.id, id) != Some(Standing::Authenticated) {
            return Err(ApiError::api(crate::access::NOT_AUTHENTICATED));
        }
        Ok(account)
    }

    /// Whether `account` is authenticated on this connection.
    pub(crate) fn is_authenticated(&self, account: &str) -> bool {
        self.app.access.standing(self.id, account) == Some(Standing::Authenticated)
    }

    async fn handle(&mut self, request: Request) -> Result {
        match request {
            Request::Ping(_) => Ok(()),
            Request::LookupPublicKey(r) => self.lookup_public_key(r).await,
            Request::AccountAdd(r) => self.account_add(r),
            Request::AccountRemove(r) => {
                if self.accounts.remove(&r.account).is_none() {
                    return Err(ApiError::api(format!(
                        "Unknown account specified for remove: {}",
                        r.account
                    )));
                }
                // Detaching the registration is how its binding goes away (as in SylkServer).
                self.registrations.remove(&r.account);
                self.app.access.remove(self.id, &r.account);
                info!(conn = self.id, account = %r.account, "removed account");
                Ok(())
            }
            Request::AccountRegister(r) => self.account_register(r).await,
            Request::AccountUnregister(r) => {
                if !self.accounts.contains_key(&r.account) {
                    return Err(ApiError::api(format!(
                        "Unknown account specified for unregister: {}",
                        r.account
                    )));
                }
                // No event: the client resets its state on the ack.
                self.remove_device_token(&r.account).await?;
                if self.registrations.remove(&r.account).is_some() {
                    info!(conn = self.id, account = %r.account, "unregistering account");
                }
                Ok(())
            }
            Request::AccountDeviceToken(r) => {
                let Some(account) = self.accounts.get_mut(&r.account) else {
                    return Err(ApiError::api(format!(
                        "Unknown account specified for token: {}",
                        r.account
                    )));
                };
                // Used at the next registration; stored now if the account is authenticated,
                // else on `registered`.
                account.contact_params = Some(ContactParams {
                    app: r.app,
                    token: r.token,
                    platform: r.platform,
                    device: r.device,
                    silent: r.silent,
                });
                self.store_device_token(&r.account).await
            }
            Request::AccountMessage(r) => self.account_message(r).await,
            Request::AccountDispositionNotification(r) => self.account_disposition(r).await,
            Request::AccountSyncConversations(r) => self.account_sync(r).await,
            Request::AccountMarkConversationRead(r) => self.account_mark_read(r).await,
            Request::AccountRemoveMessage(r) => self.account_remove_message(r).await,
            Request::AccountRemoveConversation(r) => self.account_remove_conversation(r).await,
            Request::AccountFetchAddressbook(r) => self.fetch_addressbook(r).await,
            Request::AccountUpdateAddressbook(r) => self.update_addressbook(*r).await,
            Request::SessionCreate(r) => self.session_create(r).await,
            Request::SessionAnswer(r) => self.session_answer(r).await,
            Request::SessionTrickle(r) => self.session_trickle(r).await,
            Request::SessionTerminate(r) => self.session_terminate(r).await,
            Request::SessionUpdate(r) => self.session_update(r).await,
            Request::SessionMessage(r) => self.session_message(r),
            Request::SessionDtmfInfo(r) => self.session_dtmf_info(r),
            Request::VideoroomJoin(r) => self.videoroom_join(r).await,
            Request::VideoroomLeave(r) => self.videoroom_leave(&r.session).await,
            Request::VideoroomConfigure(r) => self.videoroom_configure(r).await,
            Request::VideoroomFeedAttach(r) => self.videoroom_feed_attach(r).await,
            Request::VideoroomFeedAnswer(r) => self.videoroom_feed_answer(r).await,
            Request::VideoroomFeedDetach(r) => self.videoroom_feed_detach(r).await,
            Request::VideoroomInvite(r) => self.videoroom_invite(r),
            Request::VideoroomSessionTrickle(r) => self.videoroom_session_trickle(r).await,
            Request::VideoroomSessionUpdate(r) => self.videoroom_session_update(r).await,
            Request::VideoroomMessage(r) => self.videoroom_message(r),
            Request::VideoroomComposingIndication(r) => self.videoroom_composing(r),
            Request::VideoroomMuteAudioParticipants(r) => self.videoroom_mute_audio(&r.session),
            Request::VideoroomToggleHand(r) => self.videoroom_toggle_hand(r),
            Request::VideoroomRemove(r) => {
                // Removing participants needs a conference focus (SIP); none is configured.
                self.room_sessions
                    .get(&r.session)
                    .ok_or_else(|| unknown_room_session(&r.session))?;
                Err(ApiError::api(NO_CONFERENCE_FOCUS))
            }
            Request::VideoroomMuteParticipant(r) => self.videoroom_mute_participant(r),
        }
    }

    fn account_add(&mut self, r: sylkrtc::AccountAddRequest) -> Result {
        if self.accounts.contains_key(&r.account) {
            return Err(ApiError::api(format!(
                "Account {} already added",
                r.account
            )));
        }
        let account = Account {
            id: r.account,
            password: r.password,
            display_name: r.display_name,
            user_agent: r.user_agent,
            incoming_header_prefixes: r.incoming_header_prefixes.unwrap_or_default(),
            contact_params: None,
        };
        let domain = account.domain();
        if !self.app.config.sip_domain_allowed(domain) {
            return Err(ApiError::api(format!("SIP domain not allowed: {domain}")));
        }
        if let Err(e) = self.app.access.add(self.id, &account.id) {
            return Err(self.refused(std::time::Instant::now(), e.to_string()));
        }
        info!(
            conn = self.id,
            account = %account.id,
            user_agent = account.user_agent.as_deref().unwrap_or("-"),
            "added account"
        );
        self.accounts.insert(account.id.clone(), account);
        Ok(())
    }
}

impl Connection {
    /// `account-register`: resolve where the account's domain is served (a DNS failure is
    /// the request's error), replace any earlier registration of it on this connection, and
    /// start registering; progress follows the ack as `registration-state` events.
    async fn account_register(&mut self, r: sylkrtc::AccountRegisterRequest) -> Result {
        let Some(account) = self.accounts.get(&r.account) else {
            return Err(ApiError::api(format!(
                "Unknown account specified for register: {}",
                r.account
            )));
        };
        let aor = sip::Aor::parse(&account.id)
            .ok_or_else(|| ApiError::api(format!("invalid SIP URI: {}", account.id)))?;
        let target = self
            .app
            .sip
            .resolve(&aor)
            .await
            .map_err(|e| ApiError::api(format!("DNS lookup error: {e}")))?;
        let contact_params = account
            .contact_params
            .as_ref()
            .map(|p| {
                vec![
                    ("pn-app".to_string(), p.app.clone()),
                    ("pn-tok".to_string(), p.token.clone()),
                    ("pn-type".to_string(), p.platform.clone()),
                    ("pn-device".to_string(), p.device.clone()),
                    (
                        "pn-silent".to_string(),
                        if p.silent { "1" } else { "0" }.to_string(),
                    ),
                ]
            })
            .unwrap_or_default();
        let register = sip::RegisterAccount {
            account: account.id.clone(),
            aor,
            ha1: sip::Ha1(account.password.expose().to_string()),
            display_name: account.display_name.clone(),
            user_agent: account.user_agent.clone(),
            contact_params,
        };
        // The earlier registration (if any) is dropped first: its binding is removed.
        self.registrations.remove(&r.account);
        let id = self.next_registration;
        self.next_registration += 1;
        let registration = self
            .app
            .sip
            .register(register, target, id, self.sip_tx.clone());
        info!(
            conn = self.id,
            account = %r.account,
            %target,
            contact = registration.contact_token(),
            "registering account"
        );
        self.app
            .sip
            .route_incoming(registration.contact_token(), self.calls.incoming_tx.clone());
        self.registrations.insert(r.account, (id, registration));
        Ok(())
    }

    /// A registration's progress: a `registration-state` event for the current registration of
    /// the account (updates of replaced or removed ones are dropped).
    async fn registration_update(&mut self, update: RegistrationUpdate) {
        let current = self
            .registrations
            .get(&update.account)
            .is_some_and(|(id, _)| *id == update.id);
        if !current {
            return;
        }
        let label = match &update.state {
            sip::RegistrationState::Registering => "registering",
            sip::RegistrationState::Registered => "registered",
            sip::RegistrationState::Failed(_) => "failed",
        };
        metrics::counter!(crate::metrics::names::REGISTRATIONS, "state" => label).increment(1);
        let state = match update.state {
            sip::RegistrationState::Registering => sylkrtc::RegistrationState::Registering,
            sip::RegistrationState::Registered => {
                self.account_registered(&update.account).await;
                sylkrtc::RegistrationState::Registered
            }
            sip::RegistrationState::Failed(reason) => sylkrtc::RegistrationState::Failed {
                reason: Some(reason),
            },
        };
        self.send(Event::account(
            update.account,
            AccountEvent::RegistrationState(state),
        ))
        .await;
    }
}

fn unknown_room_session(id: &str) -> ApiError {
    ApiError::api(format!("Unknown room session: {id}"))
}

/// Room sessions held by other nodes of a cluster: this connection's side of the relay.
impl Connection {
    /// Whether `id` already names a session of this connection: a call, a room session, a
    /// feed, or a room session held by another node of a cluster.
    pub(crate) fn session_in_use(&self, id: &str) -> bool {
        self.calls.contains(id)
            || self.room_sessions.contains_key(id)
            || self.feeds.contains_key(id)
            || self.remote.contains(id)
    }

    /// Sends `request` to the node holding its room session, if another node holds it:
    /// `None` when it is handled here; `Some(Ok)` when relayed (that node answers).
    async fn relay(&mut self, request: &Request, text: String) -> Option<Result> {
        let cluster = self.app.cluster.get()?.clone();
        let (node, account) = match request {
            Request::VideoroomJoin(r) => {
                // The handler here answers for an unknown account or a session in use.
                let account = self.accounts.get(&r.account)?;
                if self.session_in_use(&r.session) {
                    return None;
                }
                let here = self.app.rooms().room(&r.uri).is_some();
                match cluster.place(&r.uri, here, self.app.draining()).await {
                    Ok(Placement::Here) => return None,
                    Ok(Placement::There(node)) => {
                        let account = RelayedAccount {
                            id: account.id.clone(),
                            password: account.password.expose().to_string(),
                            display_name: account.display_name.clone(),
                            user_agent: account.user_agent.clone(),
                            authenticated: self.is_authenticated(&account.id),
                        };
                        (node, Some(account))
                    }
                    Err(e) => return Some(Err(ApiError::Internal(e.to_string()))),
                }
            }
            other => (self.remote.node_of(other)?.to_string(), None),
        };
        let new_link = !self.remote.links.contains(&node);
        if !self.remote.note(request, &node) {
            return Some(Err(ApiError::api(format!(
                "Too many room sessions: at most {}",
                crate::cluster::remote::MAX_RELAYED_SESSIONS
            ))));
        }
        if new_link {
            cluster.link_opened(&node, self.id);
        }
        info!(conn = self.id, request = request.kind(), %node, "relayed to the room's node");
        cluster.to_node(
            &node,
            &Wire::Request {
                from: cluster.node.clone(),
                epoch: cluster.epoch,
                conn: self.id,
                ip: self.handle.peer,
                text,
                account,
            },
        );
        Some(Ok(()))
    }

    /// On a relayed connection: the account a relayed request acts for, as the client's
    /// node knows it.
    fn add_relayed_account(&mut self, a: RelayedAccount) {
        if self.accounts.contains_key(&a.id) || self.app.access.add(self.id, &a.id).is_err() {
            return;
        }
        if a.authenticated {
            self.app.access.authenticate(self.id, &a.id);
        }
        self.accounts.insert(
            a.id.clone(),
            Account {
                id: a.id,
                password: Secret(a.password),
                display_name: a.display_name,
                user_agent: a.user_agent,
                incoming_header_prefixes: Vec::new(),
                contact_params: None,
            },
        );
    }

    /// A node holding room sessions of this connection is gone: they are terminated.
    async fn node_gone(&mut self, node: &str) {
        let had_link = self.remote.links.contains(node);
        let ended = self.remote.forget_node(node);
        if had_link {
            if let Some(cluster) = self.app.cluster.get() {
                cluster.link_closed(node, self.id);
            }
        }
        for session in ended {
            info!(conn = self.id, %session, %node, "room session ended: its node is gone");
            self.send(Event::videoroom(
                session,
                crate::videoroom::terminated_event(),
            ))
            .await;
        }
    }

    /// At close: the nodes holding this connection's room sessions end them.
    fn close_links(&mut self) {
        let Some(cluster) = self.app.cluster.get() else {
            return;
        };
        for node in std::mem::take(&mut self.remote.links) {
            cluster.to_node(
                &node,
                &Wire::Close {
                    from: cluster.node.clone(),
                    epoch: cluster.epoch,
                    conn: self.id,
                },
            );
            cluster.link_closed(&node, self.id);
        }
    }
}
