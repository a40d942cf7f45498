//! Out-of-dialog SIP MESSAGE (RFC 3428): sending one on an account's behalf (answering one
//! 401/407 from the HA1), and handing the ones that reach us to the application, which decides
//! the final response (after it stored what it must).
//!
//! ```text
//! send_message(m) ──▶ MESSAGE ──▶ 401/407 ──▶ MESSAGE + credentials ──▶ final response
//! MESSAGE (no To tag) ──▶ IncomingMessage{.., reply} ──▶ application ──▶ reply(code) ──▶ <code>
//! ```
//!
//! The request text is built by [`build`] (pure); [`SipUa::send_message`] is the shell.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transaction::Transaction;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::addr::{Aor, Transport};
use super::digest::{self, Challenge, RequestLine};
use super::register::{header_safe, push_host, push_quoted, random_token, Ha1, ResponseInfo};
use super::ua::{local_response, SipUa};

/// The largest MESSAGE body the gateway takes (RFC 3428 §7 suggests far less; 64 KiB holds a
/// PGP key or a long chunked text with room to spare).
pub const MAX_BODY: usize = 64 * 1024;

/// How long the application may take to answer an incoming MESSAGE before it gets 500.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// A MESSAGE to send outside any dialog.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// The sender's AOR (From); also the digest username's source.
    pub from: Aor,
    pub display_name: Option<String>,
    /// Credentials for a 401/407; `None` sends without (server-originated messages).
    pub ha1: Option<Ha1>,
    /// The recipient's AOR: Request-URI and To.
    pub to: Aor,
    pub content_type: String,
    pub body: String,
    /// Extra headers (`X-Sylk-To-Sip: yes`, ...); values are made header-safe.
    pub headers: Vec<(String, String)>,
    pub user_agent: String,
}

/// Where the request goes out and how it is identified; one per request.
#[derive(Debug, Clone)]
pub struct Wire {
    pub local_ip: IpAddr,
    pub local_port: u16,
    pub transport: Transport,
    pub call_id: String,
    pub from_tag: String,
    pub branch: String,
    pub cseq: u32,
}

/// The MESSAGE request text, with `authorization` (header name, value) when answering a
/// challenge.
pub fn build(m: &OutgoingMessage, wire: &Wire, authorization: Option<(&str, &str)>) -> String {
    let ruri = m.to.uri();
    let mut via_host = String::new();
    push_host(&mut via_host, wire.local_ip);
    let mut from = String::new();
    if let Some(name) = m.display_name.as_deref().map(header_safe) {
        if !name.is_empty() {
            push_quoted(&mut from, &name);
            from.push(' ');
        }
    }
    from.push_str(&format!("<{}>;tag={}", m.from.uri(), wire.from_tag));
    let mut text = format!(
        "MESSAGE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/{via} {via_host}:{port};rport{alias};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: {from}\r\n\
         To: <{ruri}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} MESSAGE\r\n",
        via = wire.transport.via_name(),
        alias = wire.transport.via_params(),
        port = wire.local_port,
        branch = wire.branch,
        call_id = wire.call_id,
        cseq = wire.cseq,
    );
    let user_agent = header_safe(&m.user_agent);
    if !user_agent.is_empty() {
        text.push_str(&format!("User-Agent: {user_agent}\r\n"));
    }
    for (name, value) in &m.headers {
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if !name.is_empty() {
            text.push_str(&format!("{name}: {}\r\n", header_safe(value)));
        }
    }
    if let Some((name, value)) = authorization {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!(
        "Content-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
        header_safe(&m.content_type),
        m.body.len(),
        m.body
    ));
    text
}

/// The credentials answering a 401/407 to `m` (its Request-URI), or `None` when there is no
/// usable challenge or no HA1.
pub fn answer(
    m: &OutgoingMessage,
    response: &ResponseInfo,
    cnonce: &str,
) -> Option<(String, String)> {
    let ha1 = m.ha1.as_ref()?;
    let (values, header) = match response.code {
        401 => (&response.www_authenticate, "Authorization"),
        407 => (&response.proxy_authenticate, "Proxy-Authorization"),
        _ => return None,
    };
    let challenge = values.iter().find_map(|v| Challenge::parse(v).ok())?;
    let uri = m.to.uri();
    let value = digest::authorization(
        &challenge,
        &m.from.user,
        &ha1.0,
        RequestLine {
            method: "MESSAGE",
            uri: &uri,
            body: m.body.as_bytes(),
        },
        cnonce,
    )
    .ok()?;
    Some((header.to_string(), value))
}

/// A MESSAGE that reached us outside any dialog. Answer it with [`IncomingMessage::reply`]
/// (dropping it answers 500).
#[derive(Debug)]
pub struct IncomingMessage {
    /// The From header value (`"Name" <sip:...>;tag=..`).
    pub from: String,
    /// The To header value.
    pub to: String,
    pub request_uri: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Every header, in order.
    pub headers: Vec<(String, String)>,
    /// The socket address it came from (never what its Via says).
    pub source: Option<SocketAddr>,
    /// Whether that source may change stored data ([`Privilege::StoredChange`]): API
    /// messages, copies from the user's SIP devices, IMDNs, API tokens.
    pub may_change_storage: bool,
    reply: oneshot::Sender<u16>,
}

impl IncomingMessage {
    /// The final response code to send.
    pub fn reply(self, code: u16) {
        let _ = self.reply.send(code);
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl SipUa {
    /// MESSAGEs outside dialogs go to `sink` from now on (without one they get 501).
    pub fn route_messages(&self, sink: mpsc::Sender<IncomingMessage>) {
        *self
            .inner
            .messages
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Sends `m` to the recipient's domain (outbound proxy or RFC 3263) and returns the final
    /// response, answering one 401/407 with the HA1. No route gives `503`; no answer `408`.
    pub async fn send_message(&self, m: OutgoingMessage) -> ResponseInfo {
        let target = match self.resolve(&m.to).await {
            Ok(t) => t,
            Err(e) => {
                warn!(to = %m.to.uri(), error = %e, "cannot route the MESSAGE");
                return local_response(503, "Service Unavailable");
            }
        };
        let mut rng = StdRng::seed_from_u64(rand::random());
        let mut wire = Wire {
            local_ip: self.local_ip_towards(target.addr),
            local_port: self.local_addr().port(),
            transport: target.transport,
            call_id: random_token(&mut rng, 24),
            from_tag: random_token(&mut rng, 12),
            branch: random_token(&mut rng, 16),
            cseq: 1,
        };
        let mut text = build(&m, &wire, None);
        let mut challenged = false;
        loop {
            let r = self.inner.transact(&text, target).await;
            debug!(to = %m.to.uri(), code = r.code, "MESSAGE answered");
            if matches!(r.code, 401 | 407) && !challenged {
                challenged = true;
                if let Some((name, value)) = answer(&m, &r, &random_token(&mut rng, 16)) {
                    wire.cseq += 1;
                    wire.branch = random_token(&mut rng, 16);
                    text = build(&m, &wire, Some((&name, &value)));
                    continue;
                }
            }
            return r;
        }
    }
}

/// Hands a MESSAGE outside any dialog to the application and answers what it says (a body
/// over [`MAX_BODY`] gets 413 first; no application 501).
pub(crate) async fn serve_message(ua: SipUa, mut tx: Transaction, source: Option<SocketAddr>) {
    let sink = ua
        .inner
        .messages
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let code = match sink {
        _ if tx.original.body.len() > MAX_BODY => {
            info!(size = tx.original.body.len(), "MESSAGE too large, refused");
            413
        }
        None => 501,
        Some(sink) => {
            let (reply, answer) = oneshot::channel();
            let mut headers = Vec::new();
            let (mut from, mut to, mut content_type) =
                (String::new(), String::new(), String::new());
            for header in tx.original.headers.iter() {
                let (name, value) = (header.name().to_string(), header.value().to_string());
                match header {
                    Header::From(_) => from = value.clone(),
                    Header::To(_) => to = value.clone(),
                    Header::ContentType(_) => content_type = value.trim().to_string(),
                    _ => {}
                }
                headers.push((name, value));
            }
            let may_change_storage = source.is_some_and(|s| {
                ua.inner
                    .sources
                    .admits(s.ip(), super::trust::Privilege::StoredChange)
            });
            let message = IncomingMessage {
                from,
                to,
                request_uri: tx.original.uri.to_string(),
                content_type,
                body: tx.original.body.clone(),
                headers,
                source,
                may_change_storage,
                reply,
            };
            match sink.try_send(message) {
                Ok(()) => match tokio::time::timeout(ANSWER_WITHIN, answer).await {
                    Ok(Ok(code)) => code,
                    _ => 500,
                },
                Err(_) => 503,
            }
        }
    };
    let status = StatusCode::from(code);
    if let Err(e) = tx.reply_with(status, Vec::new(), None).await {
        info!(error = %e, "cannot answer a MESSAGE");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> OutgoingMessage {
        OutgoingMessage {
            from: Aor::parse("alice@127.0.0.1").unwrap(),
            display_name: Some("Alice \"A\"\r\nX-Evil: 1".into()),
            ha1: Some(Ha1("2edb2c1af97b498960b7f50592ec157a".into())),
            to: Aor::parse("bob@127.0.0.1").unwrap(),
            content_type: "message/cpim".into(),
            body: "hello".into(),
            headers: vec![("X-Sylk-To-Sip".into(), "yes\r\nX-Evil: 2".into())],
            user_agent: "test".into(),
        }
    }

    fn wire() -> Wire {
        Wire {
            local_ip: "127.0.0.1".parse().unwrap(),
            local_port: 5090,
            transport: Transport::Udp,
            call_id: "cid".into(),
            from_tag: "ft".into(),
            branch: "br".into(),
            cseq: 1,
        }
    }

    #[test]
    fn builds_a_parsable_message_without_injection() {
        let text = build(&message(), &wire(), None);
        let request = rsipstack::sip::Request::try_from(text.as_str()).unwrap();
        assert_eq!(request.method, rsipstack::sip::Method::Message);
        assert_eq!(request.uri.to_string(), "sip:bob@127.0.0.1");
        assert_eq!(request.body, b"hello");
        assert!(!text.contains("\r\nX-Evil"), "{text}");
        assert!(text.contains("X-Sylk-To-Sip: yes  X-Evil: 2\r\n"), "{text}");
        assert!(
            text.contains("From: \"Alice \\\"A\\\"  X-Evil: 1\" <sip:alice@127.0.0.1>;tag=ft"),
            "{text}"
        );
    }

    #[test]
    fn answers_a_proxy_challenge_from_the_ha1() {
        let m = message();
        let response = ResponseInfo {
            code: 407,
            proxy_authenticate: vec![r#"Digest realm="127.0.0.1", nonce="abc""#.into()],
            ..Default::default()
        };
        let (name, value) = answer(&m, &response, "cn").unwrap();
        assert_eq!(name, "Proxy-Authorization");
        let expected = digest::md5_hex(format!(
            "2edb2c1af97b498960b7f50592ec157a:abc:{}",
            digest::md5_hex("MESSAGE:sip:bob@127.0.0.1")
        ));
        assert!(
            value.contains(&format!("response=\"{expected}\"")),
            "{value}"
        );
        assert!(value.contains("username=\"alice\""), "{value}");
        // No credentials, no challenge, or another code: no answer.
        let mut anonymous = m.clone();
        anonymous.ha1 = None;
        assert!(answer(&anonymous, &response, "cn").is_none());
        assert!(answer(
            &m,
            &ResponseInfo {
                code: 407,
                ..Default::default()
            },
            "cn"
        )
        .is_none());
        assert!(answer(
            &m,
            &ResponseInfo {
                code: 403,
                ..response
            },
            "cn"
        )
        .is_none());
    }
}
