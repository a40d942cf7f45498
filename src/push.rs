//! Push notifications to a sylk-push server (§5.3) for accounts with no live connection.
//!
//! When `push_url` is set, an incoming chat message (`text/plain`, `text/html`,
//! `application/sylk-file-transfer`), a conference invitation or an incoming call (an INVITE
//! the proxy forked to the gateway) for an account that no connection has registered is
//! POSTed once per stored device token of that account, as JSON
//! whose keys use `-` (SylkServer's `_` replaced):
//!
//! ```json
//! {"event": "message", "media-type": "sms", "from": "bob@example.com",
//!  "from-display-name": "Bob", "to": "alice@example.com", "content-type": "text/plain",
//!  "content": "hello", "badge": 1, "message-id": "...", "token": "...", "app-id": "...",
//!  "platform": "android", "device-id": "...", "silent": false}
//! {"event": "incoming_conference_request", "from": "...", "from-display-name": "...",
//!  "to": "room@conference...", "call-id": "<session id>", "media-type": "video",
//!  "account": "alice@example.com", "token": "...", "app-id": "...", "platform": "...",
//!  "device-id": "...", "silent": false}
//! {"event": "incoming_session", "from": "bob@example.com", "from-display-name": "Bob",
//!  "to": "alice@example.com", "call-id": "<SIP Call-ID>", "media-type": "audio",
//!  "account": "alice@example.com", "token": "...", ...}
//! ```
//!
//! A reply of HTTP 410 (the token is gone at the push service) removes the token. Only
//! `http://` URLs are supported (put a TLS proxy in front of a remote push server).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, info, warn};

use crate::messaging::db;
use crate::server::App;
use crate::storage::PushToken;

/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `http://host:port/path` split for a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUrl {
    pub authority: String,
    pub path: String,
}

impl PushUrl {
    pub fn parse(url: &str) -> Option<PushUrl> {
        let rest = url.trim().strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return None;
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Some(PushUrl {
            authority,
            path: path.to_string(),
        })
    }
}

/// The fields every push carries for `token`.
fn device_fields(body: &mut Map<String, Value>, t: &PushToken, background: bool) {
    let token = match (&t.background_token, background) {
        (Some(b), true) => b.clone(),
        _ => t.token.clone(),
    };
    body.insert("token".into(), json!(token));
    body.insert("app-id".into(), json!(t.app));
    body.insert("platform".into(), json!(t.platform));
    body.insert("device-id".into(), json!(t.device));
    body.insert("silent".into(), json!(t.silent));
}

/// What to push.
pub enum Push {
    Message {
        from: String,
        from_display_name: Option<String>,
        content_type: String,
        content: String,
        message_id: String,
    },
    ConferenceInvite {
        from: String,
        from_display_name: Option<String>,
        room: String,
        session_id: String,
    },
    /// A call that found no live connection of the account.
    IncomingCall {
        from: String,
        from_display_name: Option<String>,
        call_id: String,
        video: bool,
    },
}

/// Pushes every missed INVITE the user agent reports.
pub async fn serve_missed_calls(
    app: Arc<App>,
    mut rx: tokio::sync::mpsc::Receiver<signaling::sip::MissedInvite>,
) {
    while let Some(m) = rx.recv().await {
        let from = m
            .from_uri
            .strip_prefix("sip:")
            .unwrap_or(&m.from_uri)
            .to_string();
        notify(
            &app,
            &m.account,
            Push::IncomingCall {
                from,
                from_display_name: m.display_name,
                call_id: m.call_id,
                video: m.video,
            },
        );
    }
}

/// Pushes `what` to every device of `account` when no connection has it registered and a
/// push server is configured (in the background; failures are logged).
pub fn notify(app: &Arc<App>, account: &str, what: Push) {
    let Some(url) = app.config.push_url.as_deref().and_then(PushUrl::parse) else {
        return;
    };
    if app.access.authenticated_connections(account) > 0 {
        return;
    }
    if let Push::Message { content_type, .. } = &what {
        if !["text/plain", "text/html", "application/sylk-file-transfer"]
            .contains(&content_type.as_str())
        {
            return;
        }
    }
    let app = app.clone();
    let account = account.to_string();
    tokio::spawn(async move {
        if let Some(cluster) = app.cluster.get() {
            if cluster.online_elsewhere(&account).await {
                info!(%account, "push: not sent, the account is online on another node");
                return;
            }
        }
        let (tokens, badge) = {
            let id = account.clone();
            match db(&app.store, move |s| Ok((s.tokens(&id)?, s.unread(&id)?))).await {
                Ok(v) => v,
                Err(e) => {
                    warn!(%account, error = %e, "push: cannot read the tokens");
                    return;
                }
            }
        };
        for t in tokens {
            let mut body = Map::new();
            match &what {
                Push::Message {
                    from,
                    from_display_name,
                    content_type,
                    content,
                    message_id,
                } => {
                    body.insert("event".into(), json!("message"));
                    body.insert("media-type".into(), json!("sms"));
                    body.insert("from".into(), json!(from));
                    body.insert("from-display-name".into(), json!(from_display_name));
                    body.insert("to".into(), json!(account));
                    body.insert("content-type".into(), json!(content_type));
                    body.insert("content".into(), json!(content));
                    body.insert("badge".into(), json!(badge));
                    body.insert("message-id".into(), json!(message_id));
                    device_fields(&mut body, &t, true);
                }
                Push::ConferenceInvite {
                    from,
                    from_display_name,
                    room,
                    session_id,
                } => {
                    body.insert("event".into(), json!("incoming_conference_request"));
                    body.insert("from".into(), json!(from));
                    body.insert("from-display-name".into(), json!(from_display_name));
                    body.insert("to".into(), json!(room));
                    body.insert("call-id".into(), json!(session_id));
                    body.insert("media-type".into(), json!("video"));
                    body.insert("account".into(), json!(account));
                    device_fields(&mut body, &t, false);
                }
                Push::IncomingCall {
                    from,
                    from_display_name,
                    call_id,
                    video,
                } => {
                    body.insert("event".into(), json!("incoming_session"));
                    body.insert("from".into(), json!(from));
                    body.insert("from-display-name".into(), json!(from_display_name));
                    body.insert("to".into(), json!(account));
                    body.insert("call-id".into(), json!(call_id));
                    body.insert(
                        "media-type".into(),
                        json!(if *video { "video" } else { "audio" }),
                    );
                    body.insert("account".into(), json!(account));
                    device_fields(&mut body, &t, false);
                }
            }
            let body = Value::Object(body).to_string();
            match tokio::time::timeout(TIMEOUT, post(&url, &body)).await {
                Ok(Ok(410)) => {
                    pushed("gone");
                    info!(%account, device = %t.device, "push token gone (410): removed");
                    let (account, app_id, device) =
                        (account.clone(), t.app.clone(), t.device.clone());
                    if let Err(e) = db(&app.store, move |s| {
                        s.remove_token(&account, &app_id, &device)
                    })
                    .await
                    {
                        warn!(error = %e, "push: cannot remove the token");
                    }
                }
                Ok(Ok(status)) => {
                    pushed(if (200..300).contains(&status) {
                        "sent"
                    } else {
                        "refused"
                    });
                    debug!(%account, device = %t.device, status, "push sent")
                }
                Ok(Err(e)) => {
                    pushed("failed");
                    warn!(%account, url = %url.authority, error = %e, "push failed")
                }
                Err(_) => {
                    pushed("timeout");
                    warn!(%account, url = %url.authority, "push timed out")
                }
            }
        }
    });
}

/// One `POST` with a JSON body; returns the response status.
async fn post(url: &PushUrl, body: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(&url.authority).await?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\nUser-Agent: sylk-gateway/{}\r\n\r\n{body}",
        url.path,
        url.authority,
        body.len(),
        env!("CARGO_PKG_VERSION"),
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    // The status line is all we need.
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line"))
}

/// Counts a push by its result (a fixed name).
fn pushed(result: &'static str) {
    metrics::counter!(crate::metrics::names::PUSHES, "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            PushUrl::parse("http://127.0.0.1:8400/push"),
            Some(PushUrl {
                authority: "127.0.0.1:8400".into(),
                path: "/push".into()
            })
        );
        assert_eq!(
            PushUrl::parse("http://push.example.com").unwrap(),
            PushUrl {
                authority: "push.example.com:80".into(),
                path: "/".into()
            }
        );
        assert_eq!(PushUrl::parse("https://push.example.com/x"), None);
        assert_eq!(PushUrl::parse("http:///x"), None);
        assert_eq!(PushUrl::parse("ftp://x"), None);
    }
}
