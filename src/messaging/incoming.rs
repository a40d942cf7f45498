//! MESSAGEs that reach the gateway outside dialogs: chat messages, IMDN reports, composing
//! indications, and the SIP devices' API messages.

use std::sync::Arc;

use serde_json::{json, Value};
use signaling::sip::{self, cpim, Aor, IncomingMessage};
use signaling::sylkrtc::{AccountEvent, Event, Identity};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::server::App;
use crate::storage;

use super::requests::{mark_read, remove_conversation, remove_message, server_message};
use super::*;

/// Handles the MESSAGEs the user agent receives outside dialogs, one at a time.
pub async fn serve_sip_messages(app: Arc<App>, mut rx: mpsc::Receiver<IncomingMessage>) {
    while let Some(message) = rx.recv().await {
        let code = incoming(&app, &message).await;
        message.reply(code);
    }
}

/// Whether a MESSAGE changes stored data in a user's name beyond receiving a chat message:
/// only a trusted source may send those ([`signaling::sip::trust`]).
fn changes_storage(m: &IncomingMessage, content_type: &str) -> bool {
    m.header("X-Sylk-From-Sip").is_some()
        || content_type == cpim::IMDN
        || content_type.starts_with("application/sylk-api-")
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
async fn incoming(app: &Arc<App>, m: &IncomingMessage) -> u16 {
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
    if changes_storage(m, &p.content_type) && !m.may_change_storage {
        warn!(source = ?m.source, from = %m.from, to = %m.to, content_type = %p.content_type, "MESSAGE that would change stored data refused: its source is not trusted (403)");
        return 403;
    }
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
            let n = app
                .access
                .deliver(&account, None, &message_event(&p).to_json());
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
    let live = app.access.authenticated_connections(&p.account);
    if !known {
        if live == 0 {
            info!(account = %p.account, "MESSAGE for an account unknown to storage and offline");
            return 404;
        }
        app.access
            .deliver(&p.account, None, &message_event(&p).to_json());
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
            app.access
                .deliver(&p.account, None, &message_event(&p).to_json());
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
            app.access.deliver(
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
            // One note per report: the same report received again (retransmitted, or forked
            // by the proxy to every node of a cluster sharing this store) is not delivered
            // twice.
            note.message_id = report_id(&account, &id, &state);
            if !s.add(&note)? {
                return Ok(Some(None));
            }
            Ok(Some(Some(entry.timestamp)))
        })
        .await
    } else {
        Ok(None)
    };
    match result {
        Ok(Some(None)) => {
            info!(account = %p.account, message_id = %imdn.message_id, %state, "duplicate disposition ignored");
            200
        }
        Ok(Some(Some(timestamp))) => {
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
            app.access.deliver(&p.account, None, &event.to_json());
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

/// The journal id of the report `state` of message `id` of `account`: the same for the same
/// report, in the UUID form of the other journal ids (as a call's session id is made).
fn report_id(account: &str, id: &str, state: &str) -> String {
    sip::incoming::session_id(&format!("imdn\n{account}\n{id}\n{state}"))
}
