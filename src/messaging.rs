//! Messaging (§2.2, §3.2, §5.1 history, §6): `account-message` and the IMDN reports as
//! CPIM-wrapped SIP MESSAGEs, incoming SIP MESSAGEs stored and delivered live, multi-device
//! sync (journal, `sync` events), public keys, push tokens, addressbooks, and the message
//! history API for SIP devices.
//!
//! Durability: every request that writes to the store is acked only after SQLite committed it
//! (WAL, `synchronous=FULL`), and an incoming MESSAGE gets its 200 only after its entry is
//! stored, so whatever the gateway acknowledged survives a crash.
//!
//! Order: incoming MESSAGEs are handled one at a time in arrival order, so the journal keeps
//! the order they came in.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use signaling::sip::{self, cpim, Aor, IncomingMessage, OutgoingMessage};
use signaling::sylkrtc::{self, AccountEvent, Event, Identity, JournalEntry};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::connection::{ApiError, Connection};
use crate::server::App;
use crate::storage::{self, Store};

/// Incoming MESSAGEs waiting to be handled; more get 503 from the user agent.
pub const QUEUE: usize = 1024;
/// Default and largest `limit` of a sync (and the history API's page).
const SYNC_LIMIT: i64 = 5000;
/// API tokens live this long (SylkServer's file backend: 310 days).
const API_TOKEN_LIFETIME: i64 = 26_784_000;
/// States a journal entry may have on the wire; others are not sent (§3.2).
const WIRE_STATES: &[&str] = &[
    "pending",
    "accepted",
    "delivered",
    "displayed",
    "failed",
    "received",
    "error",
    "forbidden",
];
const DISPOSITION: [&str; 2] = ["positive-delivery", "display"];
const ISCOMPOSING: &str = "application/im-iscomposing+xml";
const API_TOKEN: &str = "application/sylk-api-token";

type Result<T = ()> = std::result::Result<T, ApiError>;

/// Work started after the request's `ack` was sent (so its events follow the ack): a closure
/// holding only data (the connection stays `Sync`) that makes the task.
pub type AfterAck = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Runs `f` on the store in a blocking thread; a storage failure is an internal error.
pub async fn db<T, F>(store: &Arc<Store>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> std::result::Result<T, storage::StoreError> + Send + 'static,
{
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::Internal(e.to_string())),
        Err(e) => Err(ApiError::Internal(format!("storage task: {e}"))),
    }
}

/// Server time as stored (`created_at`): UTC, microseconds, fixed width (sorts as text).
pub fn now_iso() -> String {
    format_utc(OffsetDateTime::now_utc())
}

/// A system time in the stored format.
pub fn format_system_time(t: std::time::SystemTime) -> String {
    format_utc(OffsetDateTime::from(t))
}

fn format_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// An ISO-8601 timestamp as Python's `fromisoformat` takes it (with or without offset; no
/// offset means UTC).
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .or_else(|_| PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).map(|t| t.assume_utc()))
        .ok()
}

/// `sip:user@host;params` / `<sip:...>` -> `user@host`.
fn aor_of(uri: &str) -> String {
    let uri = sip::invite::entry_uri(uri);
    let uri = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .unwrap_or(uri);
    uri.split([';', '?', '>']).next().unwrap_or("").to_string()
}

fn journal_entry(e: storage::Entry) -> Option<JournalEntry> {
    if let Some(state) = &e.state {
        if !WIRE_STATES.contains(&state.as_str()) {
            return None;
        }
    }
    Some(JournalEntry {
        contact: e.contact,
        timestamp: e.timestamp,
        disposition: e.disposition,
        message_id: e.message_id,
        content_type: e.content_type,
        content: e.content,
        direction: e.direction,
        state: e.state,
    })
}

/// A journal entry of a read/remove operation (`direction` ""), under a fresh id.
fn journal_note(
    account: &str,
    contact: &str,
    content_type: &str,
    content: String,
) -> storage::Entry {
    let now = now_iso();
    storage::Entry {
        account: account.to_string(),
        message_id: uuid::Uuid::new_v4().to_string(),
        contact: contact.to_string(),
        direction: Some(String::new()),
        content_type: content_type.to_string(),
        content,
        disposition: None,
        state: None,
        timestamp: now.clone(),
        created_at: now,
    }
}

pub(crate) fn sync_event(account: &str, kind: &str, action: &str, content: Value) -> String {
    Event::account(
        account,
        AccountEvent::Sync {
            kind: kind.into(),
            action: action.into(),
            content,
        },
    )
    .to_json()
}

/// What the gateway needs to send a MESSAGE as an account.
#[derive(Clone)]
struct Sender {
    aor: Aor,
    display_name: Option<String>,
    ha1: sip::Ha1,
    user_agent: String,
}

impl Sender {
    /// A CPIM MESSAGE from this account to `to`, authenticated from its HA1.
    fn cpim_message(self, to: Aor, body: String) -> OutgoingMessage {
        OutgoingMessage {
            from: self.aor,
            display_name: self.display_name,
            ha1: Some(self.ha1),
            to,
            content_type: cpim::CPIM.into(),
            body,
            headers: Vec::new(),
            user_agent: self.user_agent,
        }
    }
}

impl Connection {
    fn sender(&self, account: &str) -> Result<Sender> {
        let account = self.account(account)?;
        Ok(Sender {
            aor: Aor::parse(&account.id)
                .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", account.id)))?,
            display_name: account.display_name.clone(),
            ha1: sip::Ha1(account.password.expose().to_string()),
            user_agent: account
                .user_agent
                .clone()
                .unwrap_or_else(|| concat!("sylk-gateway/", env!("CARGO_PKG_VERSION")).into()),
        })
    }

    /// `account-message`: store (pending), fork `sync` to the other connections, ack; then
    /// send the CPIM MESSAGE and report `disposition-notification` accepted/failed.
    pub(crate) async fn account_message(&mut self, r: sylkrtc::AccountMessageRequest) -> Result {
        self.authenticated_account(&r.account)?;
        if !r.content_type.starts_with("text") && r.content.chars().any(|c| u32::from(c) > 0xff) {
            // SylkServer encodes such content as latin-1, which fails (§2.2).
            return Err(ApiError::Internal(format!(
                "content of {} is not a latin-1 string",
                r.content_type
            )));
        }
        let to = Aor::parse(&r.uri)
            .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", r.uri)))?;
        let sender = self.sender(&r.account)?;
        let body = cpim::build(&cpim::CpimOut {
            from: &sender.aor.uri(),
            to: &to.uri(),
            timestamp: &r.timestamp,
            message_id: &r.message_id,
            content_type: &r.content_type,
            content: &r.content,
        });
        if body.len() > sip::message::MAX_BODY {
            return Err(ApiError::Api(format!(
                "Message too large: {} bytes (at most {})",
                body.len(),
                sip::message::MAX_BODY
            )));
        }
        let stored = r.content_type != "text/pgp-private-key";
        let valid_time = parse_timestamp(&r.timestamp).is_some();
        if stored && !valid_time {
            warn!(conn = self.id, account = %r.account, message_id = %r.message_id, timestamp = %r.timestamp, "message timestamp unparsable: sent but not stored");
        }
        if stored && valid_time {
            let entry = storage::Entry {
                account: r.account.clone(),
                message_id: r.message_id.clone(),
                contact: r.uri.clone(),
                direction: Some("outgoing".into()),
                content_type: r.content_type.clone(),
                content: r.content.clone(),
                disposition: Some(DISPOSITION.iter().map(|s| s.to_string()).collect()),
                state: Some("pending".into()),
                timestamp: r.timestamp.clone(),
                created_at: now_iso(),
            };
            let public_key = (r.content_type == "text/pgp-public-key").then(|| r.content.clone());
            let account = r.account.clone();
            db(&self.app.store, move |s| {
                if let Some(key) = public_key {
                    s.set_public_key(&account, &key, &now_iso())?;
                }
                s.add(&entry)
            })
            .await?;
        }
        let mut content = json!({
            "transaction": r.transaction,
            "account": r.account,
            "sylkrtc": "account-message",
            "uri": r.uri,
            "message_id": r.message_id,
            "content": r.content,
            "content_type": r.content_type,
            "timestamp": r.timestamp,
        });
        if let Some(generated) = r.server_generated {
            content["server_generated"] = Value::Bool(generated);
        }
        self.app.deliver_to_account(
            &r.account,
            Some(self.id),
            &sync_event(&r.account, "message", "add", content),
        );
        info!(conn = self.id, account = %r.account, to = %r.uri, message_id = %r.message_id, "sending message");
        let app = self.app.clone();
        let message = sender.cpim_message(to, body);
        self.after_ack_tasks.push(Box::new(move || Box::pin(async move {
            let response = app.sip.send_message(message).await;
            let state = if (200..300).contains(&response.code) {
                "accepted"
            } else {
                "failed"
            };
            info!(account = %r.account, message_id = %r.message_id, code = response.code, state, "message sent");
            if stored && valid_time {
                let (account, id) = (r.account.clone(), r.message_id.clone());
                let advanced = db(&app.store, move |s| s.advance_state(&account, &id, state)).await;
                if let Err(e) = advanced {
                    warn!(error = %e, "cannot record the message's state");
                }
            }
            let event = Event::account(
                r.account.as_str(),
                AccountEvent::DispositionNotification {
                    message_id: r.message_id,
                    message_timestamp: r.timestamp,
                    state: state.into(),
                    code: i64::from(response.code),
                    reason: response.reason,
                },
            );
            app.deliver_to_account(&r.account, None, &event.to_json());
        })));
        Ok(())
    }

    /// `account-disposition-notification`: update the stored message and send the IMDN.
    pub(crate) async fn account_disposition(
        &mut self,
        r: sylkrtc::AccountDispositionNotificationRequest,
    ) -> Result {
        self.authenticated_account(&r.account)?;
        if matches!(r.state.as_str(), "failed" | "forbidden") {
            // SylkServer's handler has no IMDN for these and fails (§2.2 quirk).
            return Err(ApiError::Internal(format!("no IMDN for state {}", r.state)));
        }
        let to = Aor::parse(&r.uri)
            .ok_or_else(|| ApiError::Api(format!("invalid SIP URI: {}", r.uri)))?;
        let sender = self.sender(&r.account)?;
        let (account, id, state) = (r.account.clone(), r.message_id.clone(), r.state.clone());
        db(&self.app.store, move |s| {
            let Some(entry) = s.get(&account, &id)? else {
                return Ok(false);
            };
            let disposition = next_disposition(entry.disposition, &state);
            s.set_state(&account, &id, &state, disposition.as_deref())
        })
        .await?;
        let xml = cpim::build_imdn(&r.message_id, &r.timestamp, &r.state);
        let body = cpim::build_with(
            &cpim::CpimOut {
                from: &sender.aor.uri(),
                to: &to.uri(),
                timestamp: &now_iso(),
                message_id: &uuid::Uuid::new_v4().to_string(),
                content_type: cpim::IMDN,
                content: &xml,
            },
            None,
        );
        let app = self.app.clone();
        let message = sender.cpim_message(to, body);
        self.after_ack_tasks.push(Box::new(move || Box::pin(async move {
            let response = app.sip.send_message(message).await;
            info!(account = %r.account, message_id = %r.message_id, state = %r.state, code = response.code, "disposition notification sent");
        })));
        Ok(())
    }

    /// `account-sync-conversations`: ack, then the journal as `sync-conversations`.
    pub(crate) async fn account_sync(
        &mut self,
        r: sylkrtc::AccountSyncConversationsRequest,
    ) -> Result {
        self.authenticated_account(&r.account)?;
        let since = match r.since.as_deref() {
            Some(text) => Some(format_utc(parse_timestamp(text).ok_or_else(|| {
                ApiError::Api(format!("Invalid since timestamp: {text}"))
            })?)),
            None => None,
        };
        let limit = r.limit.unwrap_or(SYNC_LIMIT).clamp(0, SYNC_LIMIT);
        let (account, id) = (r.account.clone(), r.message_id.clone());
        let entries = db(&self.app.store, move |s| {
            s.journal(&account, id.as_deref(), since.as_deref(), limit)
        })
        .await?;
        let messages: Vec<JournalEntry> = entries.into_iter().filter_map(journal_entry).collect();
        debug!(conn = self.id, account = %r.account, entries = messages.len(), "sync");
        self.after_ack.push(Event::account(
            r.account,
            AccountEvent::SyncConversations { messages },
        ));
        Ok(())
    }

    /// `account-mark-conversation-read`.
    pub(crate) async fn account_mark_read(
        &mut self,
        r: sylkrtc::AccountMarkConversationReadRequest,
    ) -> Result {
        self.authenticated_account(&r.account)?;
        let echo = mark_read(&self.app, &r.account, &r.contact, Some(self.id)).await?;
        self.after_ack_tasks.push(echo);
        Ok(())
    }

    /// `account-remove-message`.
    pub(crate) async fn account_remove_message(
        &mut self,
        r: sylkrtc::AccountMessageRemoveRequest,
    ) -> Result {
        self.authenticated_account(&r.account)?;
        let echo = remove_message(
            &self.app,
            &r.account,
            &r.contact,
            &r.message_id,
            Some(self.id),
        )
        .await?;
        self.after_ack_tasks.push(echo);
        Ok(())
    }

    /// `account-remove-conversation`.
    pub(crate) async fn account_remove_conversation(
        &mut self,
        r: sylkrtc::AccountConversationRemoveRequest,
    ) -> Result {
        self.authenticated_account(&r.account)?;
        let echo = remove_conversation(&self.app, &r.account, &r.contact, Some(self.id)).await?;
        self.after_ack_tasks.push(echo);
        Ok(())
    }

    /// `lookup-public-key`: the event, then the ack.
    pub(crate) async fn lookup_public_key(&mut self, r: sylkrtc::LookupPublicKeyRequest) -> Result {
        let uri = r.uri.clone();
        let public_key = db(&self.app.store, move |s| s.public_key(&uri)).await?;
        self.send(Event::LookupPublicKey {
            uri: r.uri,
            public_key,
        })
        .await;
        Ok(())
    }

    /// On `registered`: the account becomes known to storage (it gets messages stored from
    /// now on) and its device token, if any, is stored.
    pub(crate) async fn account_registered(&mut self, account: &str) {
        self.app.set_authenticated(self.id, account);
        let token = self
            .accounts
            .get(account)
            .and_then(|a| Some((a.contact_params.clone()?, a.user_agent.clone())));
        let id = account.to_string();
        let stored = db(&self.app.store, move |s| {
            s.add_account(&id, &now_iso())?;
            if let Some((p, user_agent)) = token {
                s.set_token(&id, &push_token(&p, user_agent))?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = stored {
            warn!(conn = self.id, %account, error = %e, "cannot record the account in storage");
        }
    }

    /// Stores the token of `account-devicetoken` when the account is authenticated already.
    pub(crate) async fn store_device_token(&self, account: &str) -> Result {
        let Some(a) = self.accounts.get(account).filter(|a| a.authenticated) else {
            return Ok(());
        };
        let Some(p) = a.contact_params.clone() else {
            return Ok(());
        };
        let token = push_token(&p, a.user_agent.clone());
        let id = account.to_string();
        db(&self.app.store, move |s| s.set_token(&id, &token)).await
    }

    /// Removes the stored token of the account's device (`account-unregister`).
    pub(crate) async fn remove_device_token(&self, account: &str) -> Result {
        let Some(p) = self
            .accounts
            .get(account)
            .and_then(|a| a.contact_params.clone())
        else {
            return Ok(());
        };
        let id = account.to_string();
        db(&self.app.store, move |s| {
            s.remove_token(&id, &p.app, &p.device)
        })
        .await
        .map(drop)
    }
}

/// Marks the conversation of `account` with `contact` read: dispositions cleared, a journal
/// entry, `sync` to the account's connections but `except`; returns the echo to the user's
/// SIP devices (to run once the request is answered).
async fn mark_read(
    app: &Arc<App>,
    account: &str,
    contact: &str,
    except: Option<u64>,
) -> Result<AfterAck> {
    let note = journal_note(
        account,
        contact,
        "application/sylk-conversation-read",
        contact.to_string(),
    );
    let (a, c) = (account.to_string(), contact.to_string());
    db(&app.store, move |s| {
        s.clear_disposition(&a, &c)?;
        s.add(&note)
    })
    .await?;
    let content = json!({ "contact": contact });
    app.deliver_to_account(
        account,
        except,
        &sync_event(account, "conversation", "read", content.clone()),
    );
    Ok(own_devices(
        app,
        account,
        contact,
        "application/sylk-conversation-read",
        content.to_string(),
    ))
}

/// Removes message `id` of `account` (and the contact's incoming copy when the contact is an
/// account here), with journal entries and `sync` events; returns the echo.
async fn remove_message(
    app: &Arc<App>,
    account: &str,
    contact: &str,
    id: &str,
    except: Option<u64>,
) -> Result<AfterAck> {
    let own = json!({ "contact": contact, "message_id": id, "direction": "outgoing" });
    let theirs = json!({ "contact": account, "message_id": id, "direction": "incoming" });
    let note = journal_note(
        account,
        contact,
        "application/sylk-message-remove",
        own.to_string(),
    );
    let their_note = journal_note(
        contact,
        account,
        "application/sylk-message-remove",
        theirs.to_string(),
    );
    let (a, c, i) = (account.to_string(), contact.to_string(), id.to_string());
    let removed_theirs = db(&app.store, move |s| {
        s.remove(&a, &i)?;
        s.add(&note)?;
        let incoming = s
            .get(&c, &i)?
            .filter(|e| e.direction.as_deref() == Some("incoming") && aor_of(&e.contact) == a);
        if incoming.is_some() {
            s.remove(&c, &i)?;
            s.add(&their_note)?;
        }
        Ok(incoming.is_some())
    })
    .await?;
    app.deliver_to_account(
        account,
        except,
        &sync_event(account, "message", "remove", own),
    );
    if removed_theirs {
        app.deliver_to_account(
            contact,
            None,
            &sync_event(contact, "message", "remove", theirs),
        );
    }
    Ok(own_devices(
        app,
        account,
        contact,
        "application/sylk-message-remove",
        id.to_string(),
    ))
}

/// Removes the conversation of `account` with `contact`; returns the echo.
async fn remove_conversation(
    app: &Arc<App>,
    account: &str,
    contact: &str,
    except: Option<u64>,
) -> Result<AfterAck> {
    let note = journal_note(
        account,
        contact,
        "application/sylk-conversation-remove",
        contact.to_string(),
    );
    let timestamp = note.timestamp.clone();
    let (a, c) = (account.to_string(), contact.to_string());
    db(&app.store, move |s| {
        s.remove_conversation(&a, &c)?;
        s.add(&note)
    })
    .await?;
    let content = json!({ "contact": contact, "timestamp": timestamp });
    app.deliver_to_account(
        account,
        except,
        &sync_event(account, "conversation", "remove", content.clone()),
    );
    Ok(own_devices(
        app,
        account,
        contact,
        "application/sylk-conversation-remove",
        content.to_string(),
    ))
}

/// A MESSAGE the gateway sends on its own (no credentials).
fn server_message(from: Aor, to: Aor, content_type: &str, body: String) -> OutgoingMessage {
    OutgoingMessage {
        from,
        display_name: None,
        ha1: None,
        to,
        content_type: content_type.into(),
        body,
        headers: Vec::new(),
        user_agent: concat!("sylk-gateway/", env!("CARGO_PKG_VERSION")).into(),
    }
}

/// A plain MESSAGE (From = contact, To = the account, `X-Sylk-To-Sip: yes`) telling the
/// user's own SIP devices about a read/remove; best effort.
fn own_devices(
    app: &Arc<App>,
    account: &str,
    contact: &str,
    content_type: &str,
    body: String,
) -> AfterAck {
    let app = app.clone();
    let message = match (Aor::parse(account), Aor::parse(contact)) {
        (Some(to), Some(from)) => {
            let mut m = server_message(from, to, content_type, body);
            m.headers.push(("X-Sylk-To-Sip".into(), "yes".into()));
            Some(m)
        }
        _ => None,
    };
    let (account, content_type) = (account.to_string(), content_type.to_string());
    Box::new(move || {
        Box::pin(async move {
            if let Some(message) = message {
                let response = app.sip.send_message(message).await;
                debug!(%account, %content_type, code = response.code, "own devices told");
            }
        })
    })
}

/// iOS tokens may be `<voip>-<apns>`: the first part is the token, the rest the background one.
fn push_token(
    p: &crate::connection::ContactParams,
    user_agent: Option<String>,
) -> storage::PushToken {
    let (token, background) = match p.token.split_once('-') {
        Some((voip, apns)) if p.platform == "ios" => (voip.to_string(), Some(apns.to_string())),
        _ => (p.token.clone(), None),
    };
    storage::PushToken {
        app: p.app.clone(),
        device: p.device.clone(),
        platform: p.platform.clone(),
        silent: p.silent,
        token,
        background_token: background,
        user_agent,
    }
}

/// The pending dispositions after a report: `delivered` removes `positive-delivery`,
/// `displayed` (and `error`) empty the list.
fn next_disposition(current: Option<Vec<String>>, state: &str) -> Option<Vec<String>> {
    match state {
        "delivered" => Some(
            current
                .unwrap_or_default()
                .into_iter()
                .filter(|d| d != "positive-delivery")
                .collect(),
        ),
        "displayed" | "error" => Some(Vec::new()),
        _ => current,
    }
}

// --- incoming SIP MESSAGEs ------------------------------------------------------------------

/// Handles the MESSAGEs the user agent receives outside dialogs, one at a time.
pub async fn serve_sip_messages(app: Arc<App>, mut rx: mpsc::Receiver<IncomingMessage>) {
    let trusted = app.config.sip_trusted_peers();
    while let Some(message) = rx.recv().await {
        let code = incoming(&app, &trusted, &message).await;
        message.reply(code);
    }
}

/// What an incoming MESSAGE carries, CPIM unwrapped.
struct Parsed {
    account: String,
    sender: Identity,
    message_id: String,
    timestamp: String,
    disposition: Option<Vec<String>>,
    content_type: String,
    content: String,
}

fn parse_incoming(m: &IncomingMessage) -> std::result::Result<Parsed, (u16, &'static str)> {
    let body = std::str::from_utf8(&m.body).map_err(|_| (415, "body is not UTF-8 text"))?;
    if m.content_type.is_empty() {
        return Err((400, "no Content-Type"));
    }
    let account = aor_of(&m.to);
    if Aor::parse(&account).is_none() || !account.contains('@') {
        return Err((404, "no account in To"));
    }
    let (from_uri, display) = sip::incoming::parse_from(&m.from);
    let outer = cpim::media_type(&m.content_type);
    let parsed = if outer == cpim::CPIM {
        let c = cpim::parse(body).ok_or((400, "malformed CPIM"))?;
        let (uri, name) = match c.from.as_deref() {
            Some(f) => sip::incoming::parse_from(f),
            None => (from_uri, display),
        };
        Parsed {
            account,
            sender: Identity::new(&aor_of(&uri), name.as_deref()),
            message_id: c
                .message_id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            timestamp: c
                .timestamp
                .filter(|t| parse_timestamp(t).is_some())
                .unwrap_or_else(now_iso),
            disposition: c.disposition_notification,
            content_type: cpim::media_type(&c.content_type),
            content: c.content,
        }
    } else {
        Parsed {
            account,
            sender: Identity::new(&aor_of(&from_uri), display.as_deref()),
            message_id: uuid::Uuid::new_v4().to_string(),
            timestamp: now_iso(),
            disposition: None,
            content_type: outer,
            content: body.to_string(),
        }
    };
    if parsed.content_type.is_empty() {
        return Err((400, "no content type in CPIM"));
    }
    Ok(parsed)
}

/// One incoming MESSAGE; returns the SIP status to answer.
async fn incoming(app: &Arc<App>, trusted: &[(std::net::IpAddr, u8)], m: &IncomingMessage) -> u16 {
    if !sip::message::trusted(m.source, trusted) {
        warn!(source = ?m.source, from = %m.from, "MESSAGE from an untrusted source refused");
        return 403;
    }
    if m.header("X-Sylk-To-Sip")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"))
    {
        // Meant for the user's SIP devices (our own read/remove notices coming back).
        return 200;
    }
    let p = match parse_incoming(m) {
        Ok(p) => p,
        Err((code, why)) => {
            info!(from = %m.from, to = %m.to, code, why, "MESSAGE refused");
            return code;
        }
    };
    let account = p.account.clone();
    let known = {
        let account = account.clone();
        match db(&app.store, move |s| s.is_known(&account)).await {
            Ok(k) => k,
            Err(e) => {
                warn!(error = %e, "storage failed");
                return 500;
            }
        }
    };
    match p.content_type.as_str() {
        cpim::IMDN => incoming_imdn(app, p, known).await,
        ISCOMPOSING => {
            let n = app.deliver_to_authenticated(&account, &message_event(&p).to_json());
            if n == 0 && !known {
                404
            } else {
                200
            }
        }
        API_TOKEN => api_token(app, p).await,
        t if t.starts_with("application/sylk-api-") => api_message(app, p).await,
        _ => {
            let from_sip = m.header("X-Sylk-From-Sip").is_some();
            let copy = from_sip.then(|| {
                (
                    p.sender.uri.clone(),
                    p.account.clone(),
                    p.message_id.clone(),
                    p.content_type.clone(),
                    p.content.clone(),
                    p.timestamp.clone(),
                )
            });
            let code = incoming_message(app, p, known).await;
            // The recipient may be anyone (its own fork of the proxy reaches it).
            let kept = match copy {
                Some(copy) => sent_from_sip_device(app, copy).await,
                None => false,
            };
            if kept {
                200
            } else {
                code
            }
        }
    }
}

/// The `application/sylk-api-*` MESSAGEs of a user's SIP devices (§5.1): From is the user,
/// To the contact (or, for a key lookup, the account whose key is asked for).
async fn api_message(app: &Arc<App>, p: Parsed) -> u16 {
    let user = p.sender.uri.clone();
    let target = p.account.clone();
    let json_contact = || {
        serde_json::from_str::<Value>(&p.content)
            .ok()
            .and_then(|v| v.get("contact").and_then(Value::as_str).map(aor_of))
            .filter(|c| !c.is_empty())
    };
    let echo = match p.content_type.as_str() {
        "application/sylk-api-pgp-key-lookup" => {
            let account = target.clone();
            let key = match db(&app.store, move |s| s.public_key(&account)).await {
                Ok(k) => k,
                Err(e) => {
                    warn!(error = %e, "storage failed");
                    return 500;
                }
            };
            let (Some(key), Some(from), Some(to)) = (key, Aor::parse(&target), Aor::parse(&user))
            else {
                info!(%user, account = %target, "public key lookup: none stored");
                return 404;
            };
            let message = server_message(from, to, "text/pgp-public-key", key);
            let sip = app.sip.clone();
            tokio::spawn(async move {
                let response = sip.send_message(message).await;
                debug!(code = response.code, "public key sent");
            });
            info!(%user, account = %target, "public key lookup answered");
            return 200;
        }
        "application/sylk-api-message-remove" => {
            let id = p.content.trim();
            if id.is_empty() {
                return 400;
            }
            remove_message(app, &user, &target, id, None).await
        }
        "application/sylk-api-conversation-read" => match json_contact() {
            Some(contact) => mark_read(app, &user, &contact, None).await,
            None => return 400,
        },
        "application/sylk-api-conversation-remove" => match json_contact() {
            Some(contact) => remove_conversation(app, &user, &contact, None).await,
            None => return 400,
        },
        other => {
            info!(content_type = other, "unknown API message");
            return 415;
        }
    };
    match echo {
        Ok(echo) => {
            info!(%user, content_type = %p.content_type, "API message handled");
            tokio::spawn(echo());
            200
        }
        Err(e) => {
            warn!(error = %e, "API message failed");
            500
        }
    }
}

fn message_event(p: &Parsed) -> Event {
    Event::account(
        p.account.as_str(),
        AccountEvent::Message {
            sender: p.sender.clone(),
            timestamp: p.timestamp.clone(),
            disposition_notification: p.disposition.clone(),
            message_id: p.message_id.clone(),
            content_type: p.content_type.clone(),
            content: p.content.clone(),
            direction: None,
        },
    )
}

/// A chat message: stored (account known), then delivered to the account's connections.
async fn incoming_message(app: &Arc<App>, p: Parsed, known: bool) -> u16 {
    let live = app.authenticated_connections(&p.account);
    if !known {
        if live == 0 {
            info!(account = %p.account, "MESSAGE for an account unknown to storage and offline");
            return 404;
        }
        app.deliver_to_authenticated(&p.account, &message_event(&p).to_json());
        return 200;
    }
    let entry = storage::Entry {
        account: p.account.clone(),
        message_id: p.message_id.clone(),
        contact: p.sender.uri.clone(),
        direction: Some("incoming".into()),
        content_type: p.content_type.clone(),
        content: p.content.clone(),
        disposition: p.disposition.clone(),
        state: Some("received".into()),
        timestamp: p.timestamp.clone(),
        created_at: now_iso(),
    };
    let private = p.content_type == "text/pgp-private-key";
    let public_key = (p.content_type == "text/pgp-public-key").then(|| p.content.clone());
    let contact = p.sender.uri.clone();
    let added = db(&app.store, move |s| {
        if let Some(key) = public_key {
            s.set_public_key(&contact, &key, &now_iso())?;
        }
        if private {
            return Ok(true);
        }
        s.add(&entry)
    })
    .await;
    match added {
        Ok(true) => {
            info!(account = %p.account, from = %p.sender.uri, message_id = %p.message_id, content_type = %p.content_type, live, "message received");
            app.deliver_to_authenticated(&p.account, &message_event(&p).to_json());
            crate::push::notify(
                app,
                &p.account,
                crate::push::Push::Message {
                    from: p.sender.uri.clone(),
                    from_display_name: p.sender.display_name.clone(),
                    content_type: p.content_type.clone(),
                    content: p.content.clone(),
                    message_id: p.message_id.clone(),
                },
            );
            200
        }
        Ok(false) => {
            info!(account = %p.account, message_id = %p.message_id, "duplicate message ignored");
            200
        }
        Err(e) => {
            warn!(error = %e, "cannot store an incoming message");
            500
        }
    }
}

/// A message the user sent from one of their SIP devices (`X-Sylk-From-Sip`): kept as
/// outgoing for the sender when known to storage, and `sync` add (`server_generated`,
/// transaction "1") to the sender's connections.
async fn sent_from_sip_device(
    app: &Arc<App>,
    (sender, receiver, id, content_type, content, timestamp): (
        String,
        String,
        String,
        String,
        String,
        String,
    ),
) -> bool {
    let entry = storage::Entry {
        account: sender.clone(),
        message_id: id.clone(),
        contact: receiver.clone(),
        direction: Some("outgoing".into()),
        content_type: content_type.clone(),
        content: content.clone(),
        disposition: Some(DISPOSITION.iter().map(|s| s.to_string()).collect()),
        state: Some("accepted".into()),
        timestamp: timestamp.clone(),
        created_at: now_iso(),
    };
    let account = sender.clone();
    let stored = db(&app.store, move |s| {
        if !s.is_known(&account)? {
            return Ok(false);
        }
        s.add(&entry)
    })
    .await;
    match stored {
        Ok(true) => {
            info!(account = %sender, to = %receiver, message_id = %id, "message from the user's SIP device kept");
            let content = json!({
                "transaction": "1", "account": sender, "sylkrtc": "account-message",
                "uri": receiver, "message_id": id, "content": content,
                "content_type": content_type, "timestamp": timestamp, "server_generated": true,
            });
            app.deliver_to_account(
                &sender,
                None,
                &sync_event(&sender, "message", "add", content),
            );
            true
        }
        Ok(false) => false,
        Err(e) => {
            warn!(error = %e, "cannot store a message sent from a SIP device");
            false
        }
    }
}

/// An IMDN about a message this account sent: stored state, journal, live event.
async fn incoming_imdn(app: &Arc<App>, p: Parsed, known: bool) -> u16 {
    let Some(imdn) = cpim::parse_imdn(&p.content) else {
        info!(account = %p.account, "malformed IMDN refused");
        return 400;
    };
    let state = imdn.status.clone();
    if ![
        "delivered",
        "displayed",
        "failed",
        "error",
        "forbidden",
        "processed",
        "stored",
    ]
    .contains(&state.as_str())
    {
        info!(account = %p.account, %state, "IMDN with an unknown status refused");
        return 400;
    }
    let (account, id) = (p.account.clone(), imdn.message_id.clone());
    let result = if known {
        let state = state.clone();
        db(&app.store, move |s| {
            let Some(entry) = s.get(&account, &id)? else {
                return Ok(None);
            };
            let disposition = next_disposition(entry.disposition.clone(), &state);
            s.set_state(&account, &id, &state, disposition.as_deref())?;
            let data = json!({
                "message_id": id,
                "message_timestamp": entry.timestamp,
                "state": state,
                "code": 200,
                "reason": "",
            });
            let mut note = journal_note(&account, &entry.contact, "message/imdn", data.to_string());
            note.direction = Some("incoming".into());
            s.add(&note)?;
            Ok(Some(entry.timestamp))
        })
        .await
    } else {
        Ok(None)
    };
    match result {
        Ok(Some(timestamp)) => {
            info!(account = %p.account, message_id = %imdn.message_id, %state, "disposition received");
            let event = Event::account(
                p.account.as_str(),
                AccountEvent::DispositionNotification {
                    message_id: imdn.message_id,
                    message_timestamp: timestamp,
                    state,
                    code: 200,
                    reason: String::new(),
                },
            );
            app.deliver_to_authenticated(&p.account, &event.to_json());
            200
        }
        Ok(None) => {
            info!(account = %p.account, message_id = %imdn.message_id, "IMDN for an unknown message ignored");
            200
        }
        Err(e) => {
            warn!(error = %e, "cannot store an IMDN");
            500
        }
    }
}

/// `application/sylk-api-token` from a SIP device: a token for the history API, sent back by
/// MESSAGE.
async fn api_token(app: &Arc<App>, p: Parsed) -> u16 {
    let account = p.sender.uri.clone();
    let Some(device) = Aor::parse(&account) else {
        return 400;
    };
    let token = random_token();
    let expires = OffsetDateTime::now_utc().unix_timestamp() + API_TOKEN_LIFETIME;
    let stored = {
        let (account, token) = (account.clone(), token.clone());
        db(&app.store, move |s| {
            s.add_account(&account, &now_iso())?;
            s.add_api_token(&account, &token, expires)
        })
        .await
    };
    if let Err(e) = stored {
        warn!(error = %e, "cannot store an API token");
        return 500;
    }
    let url = format!("{}/webrtcgateway/messages/history/{account}", app.base_url);
    let target = app
        .sip
        .proxy()
        .map(|p| p.host.to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let ip = app.sip.local_addr().ip();
    let host = if ip.is_unspecified() {
        target
    } else {
        ip.to_string()
    };
    let from = Aor {
        user: "sylkserver".into(),
        hostport: host,
    };
    let body = json!({ "token": token, "url": url }).to_string();
    let message = server_message(from, device, API_TOKEN, body);
    info!(%account, "API token issued");
    let sip = app.sip.clone();
    tokio::spawn(async move {
        let response = sip.send_message(message).await;
        debug!(code = response.code, "API token sent");
    });
    200
}

fn random_token() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..43)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

// --- the history API ------------------------------------------------------------------------

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/webrtcgateway/messages/history/{account}",
            get(history).options(history),
        )
        .route(
            "/webrtcgateway/messages/history/{account}/{message_id}",
            get(history_after).options(history_after),
        )
}

async fn history(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    history_response(app, account, None, headers).await
}

async fn history_after(
    State(app): State<Arc<App>>,
    Path((account, message_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    history_response(app, account, Some(message_id), headers).await
}

async fn history_response(
    app: Arc<App>,
    account: String,
    message_id: Option<String>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Apikey "))
        .map(|t| t.trim().to_string());
    let Some(token) = token else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let found = {
        let account = account.clone();
        db(&app.store, move |s| {
            if !s.api_token_valid(&account, &token, now)? {
                return Ok(None);
            }
            s.journal(&account, message_id.as_deref(), None, SYNC_LIMIT)
                .map(Some)
        })
        .await
    };
    match found {
        Ok(Some(entries)) => {
            let messages: Vec<JournalEntry> =
                entries.into_iter().filter_map(journal_entry).collect();
            axum::Json(json!({ "account": account, "messages": messages })).into_response()
        }
        Ok(None) => {
            info!(%account, "history refused: bad token");
            (StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
        }
        Err(e) => {
            warn!(error = %e, "history failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for text in [
            "2026-07-17T08:41:52.123Z",
            "2026-07-17T10:41:52+02:00",
            "2026-07-17T08:41:52",
            "2026-07-17T08:41:52.123456",
        ] {
            let t = parse_timestamp(text).unwrap_or_else(|| panic!("{text}"));
            assert!(format_utc(t).starts_with("2026-07-17T08:41:52"), "{text}");
        }
        assert!(parse_timestamp("yesterday").is_none());
        assert!(parse_timestamp("").is_none());
        let now = now_iso();
        assert_eq!(now.len(), "2026-07-17T08:41:52.123456Z".len(), "{now}");
        assert!(parse_timestamp(&now).is_some());
    }

    #[test]
    fn aors() {
        assert_eq!(aor_of("<sip:alice@127.0.0.1>;tag=x"), "alice@127.0.0.1");
        assert_eq!(
            aor_of("\"Bob\" <sip:bob@example.com;transport=tcp>"),
            "bob@example.com"
        );
        assert_eq!(aor_of("sip:carol@example.com"), "carol@example.com");
        assert_eq!(aor_of("garbage"), "garbage");
    }

    #[test]
    fn ios_tokens_carry_a_background_token() {
        let params = |platform: &str, token: &str| crate::connection::ContactParams {
            app: "a".into(),
            token: token.into(),
            platform: platform.into(),
            device: "d".into(),
            silent: true,
        };
        let t = push_token(&params("ios", "voip-apns-x"), None);
        assert_eq!(
            (t.token.as_str(), t.background_token.as_deref()),
            ("voip", Some("apns-x"))
        );
        let t = push_token(&params("android", "fcm-token"), Some("UA".into()));
        assert_eq!((t.token.as_str(), t.background_token), ("fcm-token", None));
        assert_eq!(t.user_agent.as_deref(), Some("UA"));
    }

    #[test]
    fn dispositions() {
        let both = Some(vec!["positive-delivery".to_string(), "display".to_string()]);
        assert_eq!(
            next_disposition(both.clone(), "delivered"),
            Some(vec!["display".to_string()])
        );
        assert_eq!(next_disposition(both.clone(), "displayed"), Some(vec![]));
        assert_eq!(next_disposition(both.clone(), "processed"), both);
    }
}
