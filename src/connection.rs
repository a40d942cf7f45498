//! The state of one WebSocket connection and the handlers of its requests.
//!
//! A [`Connection`] runs as its own task and takes the connection's valid requests from a
//! FIFO, one at a time, so a trickle sent right after a `session-create` always finds its
//! session. Each request ends with exactly one `ack` or `error`. Accounts and sessions belong
//! to the connection that created them; when it closes they are forgotten.

use std::collections::HashMap;
use std::sync::Arc;

use media::{MediaEvent, PeerId};
use signaling::sip::{self, RegistrationUpdate};
use signaling::sylkrtc::{self, AccountEvent, Event, Request, Secret};
use tokio::sync::{mpsc, Notify};
use tracing::{info, warn};

use crate::server::App;
use crate::videoroom::{Feed, PeerOwner, RoomSession};

/// What the connection's socket task sends to the client.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
}

/// How other connections and rooms reach this connection without waiting on it.
#[derive(Clone)]
pub struct ConnHandle {
    pub id: u64,
    /// The client's IP (1:1 file uploads must come from where the sender is connected).
    pub peer: std::net::IpAddr,
    out: mpsc::Sender<Outbound>,
    /// Notified when this connection must be closed (it fell behind).
    pub kick: Arc<Notify>,
}

impl ConnHandle {
    pub fn new(id: u64, peer: std::net::IpAddr, out: mpsc::Sender<Outbound>) -> Self {
        ConnHandle {
            id,
            peer,
            out,
            kick: Arc::new(Notify::new()),
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
            other => ApiError::Api(other.to_string()),
        }
    }

    pub fn client_text(&self) -> String {
        match self {
            ApiError::Api(t) => t.clone(),
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
    /// Set once the account reached `registered` on this connection; messaging needs it.
    pub authenticated: bool,
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
}

/// Media events queued for one connection (they are few: connected/closed per peer).
const MEDIA_EVENTS: usize = 256;
/// Registration updates queued for one connection (a few per registration); a registration
/// task waits when it is full.
const SIP_EVENTS: usize = 64;

impl Connection {
    pub fn new(handle: ConnHandle, app: Arc<App>, out: mpsc::Sender<Outbound>) -> Self {
        let (media_tx, media_rx) = mpsc::channel(MEDIA_EVENTS);
        let (sip_tx, sip_rx) = mpsc::channel(SIP_EVENTS);
        app.register_connection(handle.clone());
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
        }
    }

    /// Handles requests in order, and media events between them, until the socket task goes.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        loop {
            tokio::select! {
                biased;
                _ = self.out.closed() => break,
                event = self.media_rx.recv() => {
                    // This connection holds a sender, so the channel stays open.
                    if let Some(event) = event {
                        self.media_event(event).await;
                    }
                }
                update = self.sip_rx.recv() => {
                    // Likewise: the connection holds a sender.
                    if let Some(update) = update {
                        self.registration_update(update).await;
                    }
                }
                event = self.calls.media_rx.recv() => {
                    if let Some(event) = event {
                        self.call_media_event(event).await;
                    }
                }
                update = self.calls.sip_rx.recv() => {
                    if let Some(update) = update {
                        self.call_update(update).await;
                    }
                }
                update = self.calls.incoming_rx.recv() => {
                    if let Some(update) = update {
                        self.incoming_update(update).await;
                    }
                }
                request = requests.recv() => match request {
                    Some(request) => self.dispatch(request).await,
                    None => break,
                },
            }
        }
        self.close().await;
    }

    /// Forgets everything the connection held: calls are hung up, rooms are left, peers
    /// closed.
    async fn close(&mut self) {
        self.close_calls().await;
        let sessions: Vec<String> = self.room_sessions.keys().cloned().collect();
        for session in sessions {
            self.drop_room_session(&session).await;
        }
        for (_, feed) in self.feeds.drain() {
            self.app.engine.close(feed.peer).await;
        }
        self.app.unregister_connection(self.id);
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

    pub(crate) async fn send(&self, event: Event) {
        // The socket task drains the outbox until it ends; if it ended, nobody is listening.
        let _ = self.out.send(Outbound::Text(event.to_json())).await;
    }

    pub async fn dispatch(&mut self, request: Request) {
        let kind = request.kind();
        let transaction = request.transaction().to_string();
        let delay = self.app.config.debug_request_delay_ms;
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        self.after_ack.clear();
        self.after_ack_tasks.clear();
        let event = match self.handle(request).await {
            Ok(()) => Event::ack(transaction),
            Err(e) => {
                match &e {
                    ApiError::Api(text) => {
                        warn!(conn = self.id, request = kind, %transaction, error = %text, "request failed")
                    }
                    ApiError::Internal(detail) => {
                        warn!(conn = self.id, request = kind, %transaction, error = %detail, "request failed with an internal error")
                    }
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

    pub(crate) fn account(&self, id: &str) -> Result<&Account> {
        self.accounts
            .get(id)
            .ok_or_else(|| ApiError::api(format!("Unknown account specified: {id}")))
    }

    /// The account, which must have been authenticated (registered) on this connection.
    pub(crate) fn authenticated_account(&self, id: &str) -> Result<&Account> {
        let account = self.account(id)?;
        if !account.authenticated {
            return Err(ApiError::api("Account not authenticated"));
        }
        Ok(account)
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
                self.app.set_account(self.id, &r.account, false);
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
            Request::VideoroomConfigure(r) => self.videoroom_configure(r),
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
            authenticated: false,
        };
        let domain = account.domain();
        if !self.app.config.sip_domain_allowed(domain) {
            return Err(ApiError::api(format!("SIP domain not allowed: {domain}")));
        }
        info!(
            conn = self.id,
            account = %account.id,
            user_agent = account.user_agent.as_deref().unwrap_or("-"),
            "added account"
        );
        self.app.set_account(self.id, &account.id, true);
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
        let state = match update.state {
            sip::RegistrationState::Registering => sylkrtc::RegistrationState::Registering,
            sip::RegistrationState::Registered => {
                if let Some(account) = self.accounts.get_mut(&update.account) {
                    account.authenticated = true;
                }
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
