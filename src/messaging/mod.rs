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
//!
//! * this file: the shared pieces (store access, timestamps, journal entries, `sync` events);
//! * [`requests`]: the WebSocket requests and the journal operations (read, remove) they share
//!   with the SIP devices' API messages;
//! * [`incoming`]: MESSAGEs outside dialogs (chat, IMDN, composing, API messages, API token);
//! * [`history`]: the message history API for SIP devices.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use signaling::sip::{self, cpim, Aor, OutgoingMessage};
use signaling::sylkrtc::{AccountEvent, Event, JournalEntry};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::connection::ApiError;
use crate::storage::{self, Store};

mod history;
mod incoming;
mod requests;

pub use history::router;
pub use incoming::serve_sip_messages;

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
    let started = std::time::Instant::now();
    let done = tokio::task::spawn_blocking(move || f(&store)).await;
    metrics::histogram!(crate::metrics::names::STORE_SECONDS)
        .record(started.elapsed().as_secs_f64());
    match done {
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
