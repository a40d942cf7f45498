//! The messaging requests of a connection, and the journal operations they share with the
//! SIP devices' API messages.

use std::sync::Arc;

use serde_json::{json, Value};
use signaling::sip::{self, cpim, Aor, OutgoingMessage};
use signaling::sylkrtc::{self, AccountEvent, Event, JournalEntry};
use tracing::{debug, info, warn};

use crate::connection::{ApiError, Connection};
use crate::server::App;
use crate::storage;

use super::*;

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
        // Private keys and is-composing indications (RFC 3994: transient, as the incoming ones)
        // are sent, not kept.
        let composing = r.content_type == super::ISCOMPOSING;
        let stored = r.content_type != "text/pgp-private-key" && !composing;
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
        if !composing {
            self.app.access.deliver(
                &r.account,
                Some(self.id),
                &sync_event(&r.account, "message", "add", content),
            );
        }
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
            app.access.deliver(&r.account, None, &event.to_json());
        })));
        Ok(())
    }

    /// `account-disposition-notification`: update the stored message and send the IMDN.
    pub(crate) async fn account_disposition(
        &mut self,
        r: sylkrtc::AccountDispositionNotificationRequest,
    ) -> Result {
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
        let all: Vec<JournalEntry> = entries.into_iter().filter_map(journal_entry).collect();
        let found = all.len();
        let messages = first_page(all, self.app.config.limits.sync_page_bytes);
        debug!(conn = self.id, account = %r.account, entries = messages.len(), found, "sync");
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
        let echo = mark_read(&self.app, &r.account, &r.contact, Some(self.id)).await?;
        self.after_ack_tasks.push(echo);
        Ok(())
    }

    /// `account-remove-message`.
    pub(crate) async fn account_remove_message(
        &mut self,
        r: sylkrtc::AccountMessageRemoveRequest,
    ) -> Result {
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
        self.app.access.authenticate(self.id, account);
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
        let Some(a) = self
            .accounts
            .get(account)
            .filter(|_| self.is_authenticated(account))
        else {
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
pub(super) async fn mark_read(
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
    app.access.deliver(
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
pub(super) async fn remove_message(
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
    app.access.deliver(
        account,
        except,
        &sync_event(account, "message", "remove", own),
    );
    if removed_theirs {
        app.access.deliver(
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
pub(super) async fn remove_conversation(
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
    app.access.deliver(
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
pub(super) fn server_message(
    from: Aor,
    to: Aor,
    content_type: &str,
    body: String,
) -> OutgoingMessage {
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

/// The oldest entries whose JSON fits in `page_bytes` (at least one, so a client paging by
/// the last `message_id` it got always moves on); the client asks again for the rest.
fn first_page(entries: Vec<JournalEntry>, page_bytes: usize) -> Vec<JournalEntry> {
    let mut size = 0;
    let mut page = Vec::new();
    for entry in entries {
        let bytes = serde_json::to_vec(&entry).map(|v| v.len() + 1).unwrap_or(0);
        if !page.is_empty() && size + bytes > page_bytes {
            break;
        }
        size += bytes;
        page.push(entry);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize, content: &str) -> JournalEntry {
        JournalEntry {
            contact: "bob@example.com".into(),
            timestamp: "2026-07-17T08:41:52.000Z".into(),
            disposition: None,
            message_id: format!("m{i}"),
            content_type: "text/plain".into(),
            content: content.into(),
            direction: Some("incoming".into()),
            state: Some("received".into()),
        }
    }

    #[test]
    fn a_sync_answer_is_cut_into_pages() {
        let big = "x".repeat(1000);
        let entries: Vec<JournalEntry> = (0..10).map(|i| entry(i, &big)).collect();
        let page = first_page(entries.clone(), 4000);
        assert_eq!(page.len(), 3);
        assert_eq!(page[2].message_id, "m2");
        assert_eq!(first_page(entries.clone(), usize::MAX).len(), 10);
        // One entry larger than a page still goes, alone.
        let huge = vec![entry(0, &"y".repeat(10_000)), entry(1, "z")];
        assert_eq!(first_page(huge, 4096).len(), 1);
        assert!(first_page(Vec::new(), 4096).is_empty());
    }
}
