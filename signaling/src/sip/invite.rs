//! The outgoing call's protocol core: builds the INVITE (as SIP text), answers one digest
//! challenge from the HA1 (new CSeq, same Call-ID), keeps the dialog a 2xx creates (remote
//! tag, remote target, route set from Record-Route) and builds the CANCEL and the in-dialog
//! BYE. No IO, no clock: [`crate::sip::call`] is the tokio shell.
//!
//! ```text
//! invite()              -> INVITE text
//! handle_final(final)   -> Send(INVITE with credentials) | Answered | Failed{"<code> <reason>"}
//! cancel()              -> CANCEL of the INVITE last sent (same branch and CSeq number)
//! bye(transport)        -> BYE inside the dialog (Route set, remote target as Request-URI)
//! ```
//!
//! The ACK of a 2xx is not built here: rsipstack's client INVITE transaction sends it (with
//! the route set of the 2xx's Record-Route, the Contact as Request-URI, and the INVITE's
//! credentials), and repeats it for retransmitted 2xx.

use std::fmt;
use std::net::IpAddr;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::addr::{Aor, Transport};
use super::digest::{self, Challenge, RequestLine};
use super::register::{
    header_safe, push_host, push_quoted, random_token, split_contacts, status_text, Ha1,
    ResponseInfo,
};

/// What one outgoing call sends.
#[derive(Debug, Clone)]
pub struct InviteParams {
    /// The caller (the account): From, and the digest user name.
    pub from: Aor,
    /// Shown in From.
    pub display_name: Option<String>,
    /// The callee: Request-URI and To.
    pub to: Aor,
    pub user_agent: String,
    pub ha1: Ha1,
    /// Our address as put in Via and Contact (a concrete IP, never 0.0.0.0).
    pub local_ip: IpAddr,
    pub local_port: u16,
    /// The transport toward the first hop; Via and Contact say the same.
    pub transport: Transport,
    /// The SDP offer (plain RTP) carried by the INVITE.
    pub sdp: String,
    /// Extra headers from the client (filtered by [`extra_headers`]).
    pub headers: Vec<(String, String)>,
}

/// What the shell does after a final response to the INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteOutcome {
    /// Send this INVITE (the retry with credentials after 401/407).
    Send(String),
    /// 2xx: the dialog is confirmed (rsipstack sent the ACK).
    Answered,
    /// A final failure: `<code> <reason phrase>`.
    Failed { reason: String },
}

/// The dialog a 2xx created.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dialog {
    remote_tag: String,
    /// The Contact URI of the 2xx: the Request-URI of in-dialog requests.
    remote_target: String,
    /// The Record-Route entries of the 2xx, reversed (RFC 3261 §12.1.2).
    route_set: Vec<String>,
}

/// The methods the user agent takes: INVITE (new calls, and re-INVITEs inside a call's
/// dialog), ACK, BYE, CANCEL, OPTIONS, MESSAGE (INFO and UPDATE are answered 501 for now).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE";

/// At most this many further answers when each new challenge says the nonce was stale.
const MAX_STALE_ANSWERS: u8 = 2;

/// The state of one outgoing call (one dialog).
pub struct InviteCore {
    params: InviteParams,
    call_id: String,
    from_tag: String,
    cseq: u32,
    rng: StdRng,
    /// The INVITE last sent: its CSeq number and Via value (a CANCEL repeats both).
    invite_cseq: u32,
    invite_via: String,
    /// The credentials of the next INVITE (set when a challenge is answered).
    authorization: Option<(&'static str, String)>,
    answered: u8,
    stale_answers: u8,
    bye_answered: bool,
    dialog: Option<Dialog>,
}

impl fmt::Debug for InviteCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteCore")
            .field("from", &self.params.from)
            .field("to", &self.params.to)
            .field("call_id", &self.call_id)
            .field("cseq", &self.cseq)
            .field("dialog", &self.dialog)
            .finish_non_exhaustive()
    }
}

impl InviteCore {
    /// A new call; `seed` drives the random Call-ID, tag, branches and client nonces.
    pub fn new(params: InviteParams, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let call_id = random_token(&mut rng, 24);
        let from_tag = random_token(&mut rng, 12);
        InviteCore {
            params,
            call_id,
            from_tag,
            cseq: 0,
            rng,
            invite_cseq: 0,
            invite_via: String::new(),
            authorization: None,
            answered: 0,
            stale_answers: 0,
            bye_answered: false,
            dialog: None,
        }
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Our tag (From of our requests; To of the requests the callee sends in the dialog).
    pub fn local_tag(&self) -> &str {
        &self.from_tag
    }

    /// Whether a 2xx confirmed the dialog.
    pub fn confirmed(&self) -> bool {
        self.dialog.is_some()
    }

    /// Our Contact URI.
    pub fn contact_uri(&self) -> String {
        let p = &self.params;
        let mut uri = String::from("sip:");
        if !p.from.user.is_empty() {
            uri.push_str(&p.from.user);
            uri.push('@');
        }
        push_host(&mut uri, p.local_ip);
        uri.push_str(&format!(
            ":{};transport={}",
            p.local_port,
            p.transport.as_str()
        ));
        uri
    }

    /// The INVITE (the first one, or the retry carrying credentials).
    pub fn invite(&mut self) -> String {
        self.cseq += 1;
        self.invite_cseq = self.cseq;
        self.invite_via = self.via(self.params.transport);
        let p = &self.params;
        let mut text = format!(
            "INVITE {ruri} SIP/2.0\r\n\
             Via: {via}\r\n\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: <{to}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: <{contact}>\r\n\
             Allow: {allow}\r\n",
            ruri = p.to.uri(),
            via = self.invite_via,
            from = self.our_from(),
            to = p.to.uri(),
            call_id = self.call_id,
            cseq = self.cseq,
            contact = self.contact_uri(),
            allow = ALLOW,
        );
        let user_agent = header_safe(&p.user_agent);
        if !user_agent.is_empty() {
            text.push_str(&format!("User-Agent: {user_agent}\r\n"));
        }
        for (name, value) in &p.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some((name, value)) = &self.authorization {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
            p.sdp.len(),
            p.sdp
        ));
        text
    }

    /// Handles a final response (>= 200; the shell passes provisional ones on itself) to the
    /// INVITE last sent.
    pub fn handle_final(&mut self, response: &ResponseInfo) -> InviteOutcome {
        let failed = |r: &ResponseInfo| InviteOutcome::Failed {
            reason: status_text(r.code, &r.reason),
        };
        match response.code {
            200..=299 => {
                let Some(remote_target) = response
                    .contacts
                    .first()
                    .and_then(|c| split_contacts(c).first().map(|e| entry_uri(e)))
                    .filter(|u| !u.is_empty())
                else {
                    // Without a Contact there is no dialog to hang up later; rsipstack could
                    // not ACK it either.
                    return InviteOutcome::Failed {
                        reason: "502 Bad Gateway".into(),
                    };
                };
                let mut route_set: Vec<String> = response
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("Record-Route"))
                    .flat_map(|(_, v)| split_contacts(v))
                    .map(str::to_string)
                    .collect();
                route_set.reverse();
                self.dialog = Some(Dialog {
                    remote_tag: to_tag(response).unwrap_or_default(),
                    remote_target: remote_target.to_string(),
                    route_set,
                });
                InviteOutcome::Answered
            }
            401 | 407 => {
                let Some(value) = self.answer_challenge(response, "INVITE", None) else {
                    return failed(response);
                };
                let header = if response.code == 401 {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                self.authorization = Some((header, value));
                InviteOutcome::Send(self.invite())
            }
            _ => failed(response),
        }
    }

    /// The digest answer to `response`'s challenge for `method` (the INVITE or the BYE), once
    /// (and again while the nonce is stale); `None` when it cannot or must not be answered.
    fn answer_challenge(
        &mut self,
        response: &ResponseInfo,
        method: &str,
        uri: Option<&str>,
    ) -> Option<String> {
        let values = if response.code == 401 {
            &response.www_authenticate
        } else {
            &response.proxy_authenticate
        };
        let challenge = values.iter().find_map(|v| Challenge::parse(v).ok())?;
        let answer = if method == "BYE" {
            !std::mem::replace(&mut self.bye_answered, true)
        } else if uri.is_some() {
            // In-dialog MESSAGE or re-INVITE: the caller answers one challenge per request.
            true
        } else if self.answered == 0 {
            true
        } else if challenge.stale && self.stale_answers < MAX_STALE_ANSWERS {
            self.stale_answers += 1;
            true
        } else {
            false
        };
        if !answer {
            return None;
        }
        if method == "INVITE" && uri.is_none() {
            self.answered += 1;
        }
        let cnonce = random_token(&mut self.rng, 16);
        let invite_uri = self.params.to.uri();
        let (uri, body) = match uri {
            Some(u) => (u, &b""[..]),
            None => (invite_uri.as_str(), self.params.sdp.as_bytes()),
        };
        digest::authorization(
            &challenge,
            &self.params.from.user,
            &self.params.ha1.0,
            RequestLine { method, uri, body },
            &cnonce,
        )
        .ok()
    }

    /// The CANCEL of the INVITE last sent: same Request-URI, Via (branch), Call-ID, From, To
    /// and CSeq number (RFC 3261 §9.1).
    pub fn cancel(&self) -> String {
        let p = &self.params;
        let mut text = format!(
            "CANCEL {ruri} SIP/2.0\r\n\
             Via: {via}\r\n\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: <{to}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} CANCEL\r\n",
            ruri = p.to.uri(),
            via = self.invite_via,
            from = self.our_from(),
            to = p.to.uri(),
            call_id = self.call_id,
            cseq = self.invite_cseq,
        );
        self.push_user_agent(&mut text);
        text.push_str("Content-Length: 0\r\n\r\n");
        text
    }

    /// Where in-dialog requests go next (before an outbound proxy is considered): the first
    /// entry of the route set (loose routing), else the remote target. `None` before a 2xx.
    pub fn next_hop(&self) -> Option<&str> {
        let d = self.dialog.as_ref()?;
        Some(
            d.route_set
                .first()
                .map(|e| entry_uri(e))
                .unwrap_or(d.remote_target.as_str()),
        )
    }

    /// A BYE inside the confirmed dialog, sent over `transport`. `None` before a 2xx.
    pub fn bye(&mut self, transport: Transport) -> Option<String> {
        self.bye_request(transport, None)
    }

    /// The BYE again with credentials after a 401/407 to it (once).
    pub fn bye_challenge(
        &mut self,
        response: &ResponseInfo,
        transport: Transport,
    ) -> Option<String> {
        if !matches!(response.code, 401 | 407) {
            return None;
        }
        let uri = self.dialog.as_ref()?.remote_target.clone();
        let value = self.answer_challenge(response, "BYE", Some(&uri))?;
        let header = if response.code == 401 {
            "Authorization"
        } else {
            "Proxy-Authorization"
        };
        self.bye_request(transport, Some((header, value)))
    }

    fn bye_request(
        &mut self,
        transport: Transport,
        authorization: Option<(&str, String)>,
    ) -> Option<String> {
        self.in_dialog("BYE", transport, authorization, None)
    }

    /// A re-INVITE inside the confirmed dialog with the SDP offer `sdp` (hold/unhold).
    /// `None` before a 2xx.
    pub fn reinvite(&mut self, transport: Transport, sdp: &str) -> Option<String> {
        self.in_dialog("INVITE", transport, None, Some(("application/sdp", sdp)))
    }

    /// An INFO inside the confirmed dialog carrying `body` of `content_type` (DTMF relay).
    /// `None` before a 2xx.
    pub fn info(&mut self, transport: Transport, content_type: &str, body: &str) -> Option<String> {
        self.in_dialog("INFO", transport, None, Some((content_type, body)))
    }

    /// A MESSAGE inside the confirmed dialog (`message/cpim`), with the credentials answering
    /// `challenge` (a 401/407 to the previous attempt) when given. `None` before a 2xx, or when
    /// the challenge cannot be answered.
    pub fn message(
        &mut self,
        transport: Transport,
        content_type: &str,
        body: &str,
        challenge: Option<&ResponseInfo>,
    ) -> Option<String> {
        let authorization = match challenge {
            Some(response) => Some(self.in_dialog_authorization(response, "MESSAGE")?),
            None => None,
        };
        self.in_dialog(
            "MESSAGE",
            transport,
            authorization,
            Some((content_type, body)),
        )
    }

    /// The re-INVITE again with credentials after a 401/407 to it. `None` when the challenge
    /// cannot be answered.
    pub fn reinvite_challenge(
        &mut self,
        response: &ResponseInfo,
        transport: Transport,
        sdp: &str,
    ) -> Option<String> {
        let authorization = self.in_dialog_authorization(response, "INVITE")?;
        self.in_dialog(
            "INVITE",
            transport,
            Some(authorization),
            Some(("application/sdp", sdp)),
        )
    }

    /// The credentials answering a 401/407 to an in-dialog request (its URI is the remote
    /// target).
    fn in_dialog_authorization(
        &mut self,
        response: &ResponseInfo,
        method: &str,
    ) -> Option<(&'static str, String)> {
        if !matches!(response.code, 401 | 407) {
            return None;
        }
        let uri = self.dialog.as_ref()?.remote_target.clone();
        let value = self.answer_challenge(response, method, Some(&uri))?;
        let header = if response.code == 401 {
            "Authorization"
        } else {
            "Proxy-Authorization"
        };
        Some((header, value))
    }

    /// Our AOR URI and the far end's (for CPIM headers).
    pub fn parties(&self) -> (String, String) {
        (self.params.from.uri(), self.params.to.uri())
    }

    fn in_dialog(
        &mut self,
        method: &str,
        transport: Transport,
        authorization: Option<(&str, String)>,
        body: Option<(&str, &str)>,
    ) -> Option<String> {
        let dialog = self.dialog.clone()?;
        self.cseq += 1;
        let mut text = format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: {via}\r\n\
             Max-Forwards: 70\r\n",
            ruri = dialog.remote_target,
            via = self.via(transport),
        );
        for route in &dialog.route_set {
            text.push_str(&format!("Route: {route}\r\n"));
        }
        let mut to = format!("<{}>", self.params.to.uri());
        if !dialog.remote_tag.is_empty() {
            to.push_str(&format!(";tag={}", dialog.remote_tag));
        }
        text.push_str(&format!(
            "From: {from}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n",
            from = self.our_from(),
            call_id = self.call_id,
            cseq = self.cseq,
        ));
        self.push_user_agent(&mut text);
        if method == "INVITE" {
            text.push_str(&format!(
                "Contact: <{}>\r\nAllow: {ALLOW}\r\n",
                self.contact_uri()
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
        Some(text)
    }

    fn via(&mut self, transport: Transport) -> String {
        let mut host = String::new();
        push_host(&mut host, self.params.local_ip);
        format!(
            "SIP/2.0/{} {host}:{};rport{};branch=z9hG4bK{}",
            transport.via_name(),
            self.params.local_port,
            transport.via_params(),
            random_token(&mut self.rng, 16)
        )
    }

    fn our_from(&self) -> String {
        let mut from = String::new();
        if let Some(name) = self.params.display_name.as_deref().map(header_safe) {
            if !name.is_empty() {
                push_quoted(&mut from, &name);
                from.push(' ');
            }
        }
        from.push_str(&format!(
            "<{}>;tag={}",
            self.params.from.uri(),
            self.from_tag
        ));
        from
    }

    fn push_user_agent(&self, text: &mut String) {
        let user_agent = header_safe(&self.params.user_agent);
        if !user_agent.is_empty() {
            text.push_str(&format!("User-Agent: {user_agent}\r\n"));
        }
    }
}

/// The URI of a name-addr (`"x" <sip:...>;params` -> `sip:...`) or of a bare addr-spec (up to
/// its header parameters).
pub fn entry_uri(entry: &str) -> &str {
    let entry = entry.trim();
    if let Some(start) = entry.find('<') {
        let rest = &entry[start + 1..];
        return rest.split('>').next().unwrap_or(rest).trim();
    }
    entry.split(';').next().unwrap_or(entry).trim()
}

/// The tag of a response's To header.
pub fn to_tag(response: &ResponseInfo) -> Option<String> {
    let (_, value) = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("To") || n == "t")?;
    header_param(value, "tag").map(str::to_string)
}

/// A header parameter (after the `>` of a name-addr, or after the addr-spec).
pub fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match value.rfind('>') {
        Some(end) => &value[end + 1..],
        None => value.split_once(';').map(|(_, p)| p).unwrap_or(""),
    };
    params.split(';').find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The SDP body of a response, if it has one (`Content-Type: application/sdp`, or no
/// Content-Type and a body that starts like an SDP).
pub fn sdp_body(response: &ResponseInfo) -> Option<String> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let content_type = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type") || n == "c")
        .map(|(_, v)| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let text = String::from_utf8_lossy(&response.body).into_owned();
    match content_type.as_deref() {
        Some("application/sdp") => Some(text),
        None if text.trim_start().starts_with("v=") => Some(text),
        _ => None,
    }
}

/// Headers a client may not set through `session-create.headers`: the ones the user agent
/// builds itself (dialog identity, routing, body framing, credentials), in full and compact
/// form.
const RESERVED_HEADERS: &[&str] = &[
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "content-length",
    "l",
    "content-type",
    "c",
    "content-encoding",
    "e",
    "max-forwards",
    "route",
    "record-route",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "allow",
    "user-agent",
];

/// The client's extra INVITE headers that can be sent: a valid token as name, not one the
/// user agent sets itself; control characters in values become spaces (no injection). The
/// others are dropped.
pub fn extra_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
                && !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str())
        })
        .map(|(name, value)| (name.clone(), header_safe(value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_HA1: &str = "2edb2c1af97b498960b7f50592ec157a";
    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

    fn params() -> InviteParams {
        InviteParams {
            from: Aor::parse("alice@127.0.0.1").unwrap(),
            display_name: Some("Alice\r\nX-Evil: 1".into()),
            to: Aor::parse("bob@127.0.0.1").unwrap(),
            user_agent: "SylkRTC test".into(),
            ha1: Ha1(ALICE_HA1.into()),
            local_ip: "127.0.0.1".parse().unwrap(),
            local_port: 5090,
            transport: Transport::Udp,
            sdp: SDP.into(),
            headers: extra_headers(&[
                ("X-Sylk-Test".into(), "one\r\nX-Evil: 2".into()),
                ("Via".into(), "SIP/2.0/UDP evil".into()),
                ("Bad Name".into(), "x".into()),
            ]),
        }
    }

    fn header<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.split("\r\n\r\n")
            .next()
            .unwrap()
            .split("\r\n")
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .collect()
    }

    fn response(code: u16, reason: &str, headers: &[(&str, &str)]) -> ResponseInfo {
        let mut r = ResponseInfo {
            code,
            reason: reason.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        for (n, v) in headers {
            match *n {
                "Contact" => r.contacts.push(v.to_string()),
                "Proxy-Authenticate" => r.proxy_authenticate.push(v.to_string()),
                "WWW-Authenticate" => r.www_authenticate.push(v.to_string()),
                _ => {}
            }
        }
        r
    }

    #[test]
    fn invite_is_well_formed_and_parsed_by_rsipstack() {
        let mut core = InviteCore::new(params(), 7);
        let text = core.invite();
        assert!(
            text.starts_with("INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"),
            "{text}"
        );
        assert_eq!(header(&text, "To"), ["<sip:bob@127.0.0.1>"]);
        assert_eq!(
            header(&text, "From"),
            [format!(
                "\"Alice  X-Evil: 1\" <sip:alice@127.0.0.1>;tag={}",
                core.local_tag()
            )]
        );
        assert_eq!(
            header(&text, "Contact"),
            ["<sip:alice@127.0.0.1:5090;transport=udp>"]
        );
        assert_eq!(header(&text, "CSeq"), ["1 INVITE"]);
        assert_eq!(header(&text, "X-Sylk-Test"), ["one  X-Evil: 2"]);
        assert!(header(&text, "X-Evil").is_empty());
        assert_eq!(header(&text, "Via").len(), 1, "the client cannot add a Via");
        assert_eq!(header(&text, "Content-Type"), ["application/sdp"]);
        assert_eq!(header(&text, "Content-Length"), [SDP.len().to_string()]);
        assert!(text.ends_with(SDP));
        let parsed = rsipstack::sip::Request::try_from(text.as_str()).unwrap();
        assert_eq!(parsed.body, SDP.as_bytes());
        assert_eq!(parsed.uri.to_string(), "sip:bob@127.0.0.1");
    }

    #[test]
    fn proxy_challenge_is_answered_once_with_a_new_cseq() {
        let mut core = InviteCore::new(params(), 7);
        let first = core.invite();
        let challenge = response(
            407,
            "Proxy Authentication Required",
            &[(
                "Proxy-Authenticate",
                "Digest realm=\"127.0.0.1\", nonce=\"abc\"",
            )],
        );
        let InviteOutcome::Send(second) = core.handle_final(&challenge) else {
            panic!()
        };
        assert_eq!(header(&second, "CSeq"), ["2 INVITE"]);
        assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"));
        assert_eq!(header(&second, "From"), header(&first, "From"));
        assert_ne!(header(&second, "Via"), header(&first, "Via"));
        let auth = header(&second, "Proxy-Authorization");
        assert_eq!(auth.len(), 1);
        let expected = digest::md5_hex(format!(
            "{ALICE_HA1}:abc:{}",
            digest::md5_hex("INVITE:sip:bob@127.0.0.1")
        ));
        assert!(
            auth[0].starts_with(&format!(
                "Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"abc\", \
                 uri=\"sip:bob@127.0.0.1\", response=\"{expected}\""
            )),
            "{}",
            auth[0]
        );
        assert!(!second.contains(ALICE_HA1));
        // The CANCEL follows the INVITE last sent.
        let cancel = core.cancel();
        assert!(cancel.starts_with("CANCEL sip:bob@127.0.0.1 SIP/2.0\r\n"));
        assert_eq!(header(&cancel, "Via"), header(&second, "Via"));
        assert_eq!(header(&cancel, "CSeq"), ["2 CANCEL"]);
        assert_eq!(header(&cancel, "To"), ["<sip:bob@127.0.0.1>"]);
        rsipstack::sip::Request::try_from(cancel.as_str()).unwrap();
        // A second challenge means wrong credentials.
        assert_eq!(
            core.handle_final(&challenge),
            InviteOutcome::Failed {
                reason: "407 Proxy Authentication Required".into()
            }
        );
        let mut core = InviteCore::new(params(), 8);
        core.invite();
        let www = response(
            401,
            "Unauthorized",
            &[(
                "WWW-Authenticate",
                "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"",
            )],
        );
        let InviteOutcome::Send(text) = core.handle_final(&www) else {
            panic!()
        };
        assert_eq!(header(&text, "Authorization").len(), 1);
        assert!(header(&text, "Proxy-Authorization").is_empty());
    }

    #[test]
    fn failures_keep_the_reason_phrase() {
        let mut core = InviteCore::new(params(), 7);
        core.invite();
        assert_eq!(
            core.handle_final(&response(486, "Busy Here", &[])),
            InviteOutcome::Failed {
                reason: "486 Busy Here".into()
            }
        );
        assert!(!core.confirmed());
        assert_eq!(core.bye(Transport::Udp), None);
    }

    #[test]
    fn answer_creates_the_dialog_and_the_bye_follows_the_route_set() {
        let mut core = InviteCore::new(params(), 7);
        core.invite();
        let ok = response(
            200,
            "OK",
            &[
                (
                    "Record-Route",
                    "<sip:10.0.0.2;lr>, <sip:10.0.0.1;lr;ftag=x>",
                ),
                ("Record-Route", "<sip:127.0.0.1;lr;ftag=y>"),
                ("To", "<sip:bob@127.0.0.1>;tag=remote1"),
                (
                    "Contact",
                    "\"Bob\" <sip:bob@127.0.0.1:5070;transport=udp>;expires=5",
                ),
            ],
        );
        assert_eq!(core.handle_final(&ok), InviteOutcome::Answered);
        assert!(core.confirmed());
        assert_eq!(core.next_hop(), Some("sip:127.0.0.1;lr;ftag=y"));
        let bye = core.bye(Transport::Udp).unwrap();
        assert!(
            bye.starts_with("BYE sip:bob@127.0.0.1:5070;transport=udp SIP/2.0\r\n"),
            "{bye}"
        );
        assert_eq!(
            header(&bye, "Route"),
            [
                "<sip:127.0.0.1;lr;ftag=y>",
                "<sip:10.0.0.1;lr;ftag=x>",
                "<sip:10.0.0.2;lr>"
            ]
        );
        assert_eq!(header(&bye, "To"), ["<sip:bob@127.0.0.1>;tag=remote1"]);
        assert_eq!(header(&bye, "CSeq"), ["2 BYE"]);
        rsipstack::sip::Request::try_from(bye.as_str()).unwrap();
        let challenge = response(
            401,
            "Unauthorized",
            &[(
                "WWW-Authenticate",
                "Digest realm=\"127.0.0.1\", nonce=\"b\"",
            )],
        );
        let again = core.bye_challenge(&challenge, Transport::Udp).unwrap();
        assert_eq!(header(&again, "CSeq"), ["3 BYE"]);
        assert_eq!(header(&again, "Authorization").len(), 1);
        assert!(header(&again, "Authorization")[0]
            .contains("uri=\"sip:bob@127.0.0.1:5070;transport=udp\""));
        assert_eq!(core.bye_challenge(&challenge, Transport::Udp), None);
        // Without Record-Route, in-dialog requests go to the remote target.
        let mut core = InviteCore::new(params(), 9);
        core.invite();
        core.handle_final(&response(
            200,
            "OK",
            &[
                ("Contact", "<sip:10.1.1.1:5062>"),
                ("To", "<sip:bob@x>;tag=t"),
            ],
        ));
        assert_eq!(core.next_hop(), Some("sip:10.1.1.1:5062"));
        assert!(!core.bye(Transport::Tcp).unwrap().contains("Route:"));
        // A 2xx without Contact cannot make a dialog.
        let mut core = InviteCore::new(params(), 10);
        core.invite();
        assert!(matches!(
            core.handle_final(&response(200, "OK", &[])),
            InviteOutcome::Failed { .. }
        ));
    }

    #[test]
    fn in_dialog_challenges_are_answered_with_a_new_cseq() {
        let mut core = InviteCore::new(params(), 11);
        core.invite();
        core.handle_final(&response(
            200,
            "OK",
            &[
                ("Contact", "<sip:10.1.1.1:5062>"),
                ("To", "<sip:bob@x>;tag=t"),
            ],
        ));
        let first = core.reinvite(Transport::Udp, SDP).unwrap();
        assert_eq!(header(&first, "CSeq"), ["2 INVITE"]);
        let challenge = response(
            407,
            "Proxy Authentication Required",
            &[("Proxy-Authenticate", "Digest realm=\"r\", nonce=\"n\"")],
        );
        let again = core
            .reinvite_challenge(&challenge, Transport::Udp, SDP)
            .unwrap();
        assert_eq!(header(&again, "CSeq"), ["3 INVITE"]);
        let auth = header(&again, "Proxy-Authorization");
        assert_eq!(auth.len(), 1);
        let expected = digest::md5_hex(format!(
            "{ALICE_HA1}:n:{}",
            digest::md5_hex("INVITE:sip:10.1.1.1:5062")
        ));
        assert!(
            auth[0].contains(&format!("response=\"{expected}\"")),
            "{}",
            auth[0]
        );
        assert!(!again.contains(ALICE_HA1));
        assert!(again.ends_with(SDP));
        rsipstack::sip::Request::try_from(again.as_str()).unwrap();
        assert_eq!(
            core.reinvite_challenge(&response(500, "x", &[]), Transport::Udp, SDP),
            None
        );
        let message = core
            .message(Transport::Udp, "message/cpim", "x", None)
            .unwrap();
        assert!(message.starts_with("MESSAGE sip:10.1.1.1:5062 SIP/2.0\r\n"));
        assert_eq!(header(&message, "CSeq"), ["4 MESSAGE"]);
        assert_eq!(header(&message, "Content-Type"), ["message/cpim"]);
        let www = response(
            401,
            "Unauthorized",
            &[("WWW-Authenticate", "Digest realm=\"r\", nonce=\"m\"")],
        );
        let message = core
            .message(Transport::Udp, "message/cpim", "x", Some(&www))
            .unwrap();
        assert_eq!(header(&message, "CSeq"), ["5 MESSAGE"]);
        assert_eq!(header(&message, "Authorization").len(), 1);
        rsipstack::sip::Request::try_from(message.as_str()).unwrap();
    }

    #[test]
    fn bodies_and_parameters() {
        let mut r = response(
            183,
            "Session Progress",
            &[("Content-Type", "application/sdp")],
        );
        r.body = SDP.as_bytes().to_vec();
        assert_eq!(sdp_body(&r).as_deref(), Some(SDP));
        r.headers.clear();
        assert_eq!(sdp_body(&r).as_deref(), Some(SDP));
        r.headers = vec![("Content-Type".into(), "text/plain".into())];
        assert_eq!(sdp_body(&r), None);
        r.body = b"\r\n".to_vec();
        assert_eq!(sdp_body(&r), None);
        assert_eq!(header_param("<sip:a@b;tag=x>;tag=y", "tag"), Some("y"));
        assert_eq!(header_param("sip:a@b;tag=z", "TAG"), Some("z"));
        assert_eq!(header_param("<sip:a@b;tag=x>", "tag"), None);
        assert_eq!(entry_uri(" <sip:1.2.3.4;lr>;x=y"), "sip:1.2.3.4;lr");
        assert_eq!(entry_uri("sip:1.2.3.4;lr"), "sip:1.2.3.4");
    }
}
