//! The state of one WebSocket connection and the handlers of its requests.
//!
//! A [`Connection`] runs as its own task and takes the connection's valid requests from a
//! FIFO, one at a time, so a trickle sent right after a `session-create` always finds its
//! session. Each request ends with exactly one `ack` or `error`. Accounts and sessions belong
//! to the connection that created them; when it closes they are forgotten.

use std::collections::HashMap;
use std::sync::Arc;

use signaling::sylkrtc::{self, Event, Request, Secret};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::server::App;

/// What the connection's socket task sends to the client.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
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
const NO_SIP_REGISTRATION: &str = "SIP registration is not available yet in this gateway";
const NO_SIP_CALLS: &str = "SIP calls are not available yet in this gateway";
const NO_VIDEOROOMS: &str = "Video rooms are not available yet in this gateway";
const NO_STORAGE: &str = "Message storage is not available yet in this gateway";

pub struct Connection {
    pub id: u64,
    app: Arc<App>,
    out: mpsc::Sender<Outbound>,
    accounts: HashMap<String, Account>,
}

impl Connection {
    pub fn new(id: u64, app: Arc<App>, out: mpsc::Sender<Outbound>) -> Self {
        Connection {
            id,
            app,
            out,
            accounts: HashMap::new(),
        }
    }

    /// Handles requests in order until the socket task goes away.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        loop {
            tokio::select! {
                biased;
                _ = self.out.closed() => break,
                request = requests.recv() => match request {
                    Some(request) => self.dispatch(request).await,
                    None => break,
                },
            }
        }
        if !self.accounts.is_empty() {
            info!(
                conn = self.id,
                accounts = self.accounts.len(),
                "forgetting the connection's accounts"
            );
        }
    }

    async fn send(&self, event: Event) {
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
                Event::error(transaction, e.client_text())
            }
        };
        self.send(event).await;
    }

    fn account(&self, id: &str) -> Result<&Account> {
        self.accounts
            .get(id)
            .ok_or_else(|| ApiError::api(format!("Unknown account specified: {id}")))
    }

    /// The account, which must have been authenticated (registered) on this connection.
    fn authenticated_account(&self, id: &str) -> Result<&Account> {
        let account = self.account(id)?;
        if !account.authenticated {
            return Err(ApiError::api("Account not authenticated"));
        }
        Ok(account)
    }

    async fn handle(&mut self, request: Request) -> Result {
        match request {
            Request::Ping(_) => Ok(()),
            Request::LookupPublicKey(_) => Err(ApiError::api(NO_STORAGE)),
            Request::AccountAdd(r) => self.account_add(r),
            Request::AccountRemove(r) => {
                if self.accounts.remove(&r.account).is_none() {
                    return Err(ApiError::api(format!(
                        "Unknown account specified for remove: {}",
                        r.account
                    )));
                }
                info!(conn = self.id, account = %r.account, "removed account");
                Ok(())
            }
            Request::AccountRegister(r) => {
                if !self.accounts.contains_key(&r.account) {
                    return Err(ApiError::api(format!(
                        "Unknown account specified for register: {}",
                        r.account
                    )));
                }
                Err(ApiError::api(NO_SIP_REGISTRATION))
            }
            Request::AccountUnregister(r) => {
                // Nothing is registered yet, so there is nothing to undo.
                if !self.accounts.contains_key(&r.account) {
                    return Err(ApiError::api(format!(
                        "Unknown account specified for unregister: {}",
                        r.account
                    )));
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
                // Used at the next registration (the token store comes with storage).
                account.contact_params = Some(ContactParams {
                    app: r.app,
                    token: r.token,
                    platform: r.platform,
                    device: r.device,
                    silent: r.silent,
                });
                Ok(())
            }
            Request::AccountMessage(r) => self.authenticated_account(&r.account).map(drop),
            Request::AccountDispositionNotification(r) => {
                self.authenticated_account(&r.account).map(drop)
            }
            Request::AccountSyncConversations(r) => {
                self.authenticated_account(&r.account).map(drop)
            }
            Request::AccountMarkConversationRead(r) => {
                self.authenticated_account(&r.account).map(drop)
            }
            Request::AccountRemoveMessage(r) => self.authenticated_account(&r.account).map(drop),
            Request::AccountRemoveConversation(r) => {
                self.authenticated_account(&r.account).map(drop)
            }
            Request::AccountFetchAddressbook(r) => self.authenticated_account(&r.account).map(drop),
            Request::AccountUpdateAddressbook(r) => {
                self.authenticated_account(&r.account).map(drop)
            }
            Request::SessionCreate(r) => {
                self.account(&r.account)?;
                Err(ApiError::api(NO_SIP_CALLS))
            }
            Request::SessionAnswer(r) => Err(unknown_session(&r.session)),
            Request::SessionTrickle(r) => Err(unknown_session(&r.session)),
            Request::SessionTerminate(r) => Err(unknown_session(&r.session)),
            Request::SessionUpdate(r) => Err(unknown_session(&r.session)),
            Request::SessionMessage(r) => Err(unknown_session(&r.session)),
            Request::SessionDtmfInfo(r) => Err(unknown_session(&r.session)),
            Request::VideoroomJoin(r) => {
                self.account(&r.account)?;
                Err(ApiError::api(NO_VIDEOROOMS))
            }
            Request::VideoroomLeave(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomConfigure(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomFeedAttach(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomFeedAnswer(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomFeedDetach(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomInvite(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomSessionTrickle(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomSessionUpdate(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomMessage(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomComposingIndication(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomMuteAudioParticipants(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomToggleHand(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomRemove(r) => Err(unknown_room_session(&r.session)),
            Request::VideoroomMuteParticipant(r) => Err(unknown_room_session(&r.session)),
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
        self.accounts.insert(account.id.clone(), account);
        Ok(())
    }
}

fn unknown_session(id: &str) -> ApiError {
    ApiError::api(format!("Unknown session {id}"))
}

fn unknown_room_session(id: &str) -> ApiError {
    ApiError::api(format!("Unknown room session: {id}"))
}
