//! The registration client's protocol core: builds REGISTER requests (as SIP text), reads the
//! final responses, answers digest challenges from the HA1, and says what happens next. No IO,
//! no clock, no tasks: [`crate::sip::registration`] is the tokio shell that sends the requests
//! through rsipstack transactions and runs the refresh timer.
//!
//! ```text
//! register()/unregister() -> request text
//! handle_response(final)  -> Send(retry with credentials) | Registered{expires} | Failed{reason}
//!                            | Unregistered
//! ```
//!
//! One binding per [`RegisterCore`]: its Contact carries a random `gw=<token>` URI parameter,
//! so the same account registered from two connections gets two bindings at the registrar, and
//! the expiry the registrar granted is found among the AOR's bindings in the 200 OK.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::addr::{Aor, Transport};
use super::digest::{self, Challenge, RequestLine};

/// The URI parameter of our Contact that identifies one binding (one connection's account).
pub const CONTACT_TOKEN_PARAM: &str = "gw";

/// The account's HA1; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1(pub String);

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What one registration registers.
#[derive(Debug, Clone)]
pub struct RegisterParams {
    pub aor: Aor,
    /// Shown in From.
    pub display_name: Option<String>,
    /// The User-Agent header.
    pub user_agent: String,
    pub ha1: Ha1,
    /// Our address as put in Via and Contact (a concrete IP, never 0.0.0.0).
    pub local_ip: IpAddr,
    pub local_port: u16,
    /// The transport towards the registrar; the Contact says the same.
    pub transport: Transport,
    /// Push parameters (`pn-app`, `pn-tok`, ...) appended to the Contact URI (RFC 8599 style).
    pub contact_params: Vec<(String, String)>,
    /// The lifetime asked for, in seconds.
    pub expires: u32,
}

/// The parts of a final response the core needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseInfo {
    pub code: u16,
    /// The reason phrase as received.
    pub reason: String,
    pub www_authenticate: Vec<String>,
    pub proxy_authenticate: Vec<String>,
    /// Contact header values (each may list several bindings, comma separated).
    pub contacts: Vec<String>,
    pub expires: Option<u32>,
    pub min_expires: Option<u32>,
    /// Every header as (name, value), in order (the call code reads To, Record-Route,
    /// Content-Type and extension headers from here).
    pub headers: Vec<(String, String)>,
    /// The message body.
    pub body: Vec<u8>,
}

/// What the shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A provisional response: keep waiting.
    Wait,
    /// Send this request (the retry with credentials, or with a larger Expires after 423).
    Send(String),
    /// 2xx to a REGISTER: the registrar keeps our binding for `expires` seconds.
    Registered { expires: u32 },
    /// Final failure of a REGISTER (or of an unregistration): `<code> <reason phrase>`.
    Failed { reason: String },
    /// 2xx to the unregistration: the binding is gone.
    Unregistered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Register,
    Unregister,
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    expires: u32,
    /// Challenges answered in this exchange.
    answered: u8,
    /// Extra answers allowed because the registrar said `stale=true`.
    stale_answers: u8,
    interval_retried: bool,
}

/// At most this many further answers when each new challenge says the nonce was stale.
const MAX_STALE_ANSWERS: u8 = 2;

/// The state of one binding.
pub struct RegisterCore {
    params: RegisterParams,
    call_id: String,
    from_tag: String,
    token: String,
    cseq: u32,
    rng: StdRng,
    pending: Option<Pending>,
    registered_once: bool,
}

impl fmt::Debug for RegisterCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterCore")
            .field("aor", &self.params.aor)
            .field("call_id", &self.call_id)
            .field("token", &self.token)
            .field("cseq", &self.cseq)
            .finish_non_exhaustive()
    }
}

impl RegisterCore {
    /// A new binding; `seed` drives the random Call-ID, tags, branches, client nonces and the
    /// contact token (tests pass a fixed one).
    pub fn new(params: RegisterParams, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let call_id = random_token(&mut rng, 24);
        let from_tag = random_token(&mut rng, 12);
        let token = random_token(&mut rng, 12);
        RegisterCore {
            params,
            call_id,
            from_tag,
            token,
            cseq: 0,
            rng,
            pending: None,
            registered_once: false,
        }
    }

    /// The `gw` parameter value of our Contact.
    pub fn contact_token(&self) -> &str {
        &self.token
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Whether a REGISTER ever succeeded (then there is a binding to remove).
    pub fn registered_once(&self) -> bool {
        self.registered_once
    }

    /// Our Contact URI.
    pub fn contact_uri(&self) -> String {
        let p = &self.params;
        let mut uri = String::from("sip:");
        if !p.aor.user.is_empty() {
            uri.push_str(&p.aor.user);
            uri.push('@');
        }
        push_host(&mut uri, p.local_ip);
        uri.push_str(&format!(
            ":{};transport={};{}={}",
            p.local_port,
            p.transport.as_str(),
            CONTACT_TOKEN_PARAM,
            self.token
        ));
        for (name, value) in &p.contact_params {
            uri.push(';');
            push_param_escaped(&mut uri, name);
            uri.push('=');
            push_param_escaped(&mut uri, value);
        }
        uri
    }

    /// The REGISTER that creates or refreshes the binding.
    pub fn register(&mut self) -> String {
        let expires = self.params.expires;
        self.start(Kind::Register, expires)
    }

    /// The REGISTER with `Expires: 0` that removes the binding.
    pub fn unregister(&mut self) -> String {
        self.start(Kind::Unregister, 0)
    }

    fn start(&mut self, kind: Kind, expires: u32) -> String {
        self.pending = Some(Pending {
            kind,
            expires,
            answered: 0,
            stale_answers: 0,
            interval_retried: false,
        });
        self.request(expires, None)
    }

    /// The Request-URI of our REGISTERs, exactly as sent (the digest covers it).
    pub fn request_uri(&self) -> String {
        format!("sip:{}", self.params.aor.hostport)
    }

    /// Handles a response to the request last returned.
    pub fn handle_response(&mut self, response: &ResponseInfo) -> Outcome {
        if response.code < 200 {
            return Outcome::Wait;
        }
        let Some(pending) = self.pending.as_mut() else {
            return Outcome::Wait;
        };
        let failed = |r: &ResponseInfo| Outcome::Failed {
            reason: status_text(r.code, &r.reason),
        };
        match response.code {
            200..=299 => {
                let kind = pending.kind;
                let asked = pending.expires;
                self.pending = None;
                match kind {
                    Kind::Register => {
                        self.registered_once = true;
                        Outcome::Registered {
                            expires: granted_expires(response, &self.token, asked),
                        }
                    }
                    Kind::Unregister => Outcome::Unregistered,
                }
            }
            401 | 407 => {
                let values = if response.code == 401 {
                    &response.www_authenticate
                } else {
                    &response.proxy_authenticate
                };
                // The first challenge we can answer (a registrar may offer SHA-256 first).
                let Some(challenge) = values.iter().find_map(|v| Challenge::parse(v).ok()) else {
                    self.pending = None;
                    return failed(response);
                };
                let answer = if pending.answered == 0 {
                    true
                } else if challenge.stale && pending.stale_answers < MAX_STALE_ANSWERS {
                    pending.stale_answers += 1;
                    true
                } else {
                    false
                };
                if !answer {
                    // A second challenge after an authenticated attempt: the HA1 is wrong.
                    self.pending = None;
                    return failed(response);
                }
                pending.answered += 1;
                let expires = pending.expires;
                let cnonce = random_token(&mut self.rng, 16);
                let uri = self.request_uri();
                let value = match digest::authorization(
                    &challenge,
                    &self.params.aor.user,
                    &self.params.ha1.0,
                    RequestLine {
                        method: "REGISTER",
                        uri: &uri,
                        body: b"",
                    },
                    &cnonce,
                ) {
                    Ok(v) => v,
                    Err(_) => {
                        self.pending = None;
                        return failed(response);
                    }
                };
                let header = if response.code == 401 {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                Outcome::Send(self.request(expires, Some((header, value))))
            }
            423 => match response.min_expires {
                Some(min) if !pending.interval_retried && min > pending.expires => {
                    pending.interval_retried = true;
                    pending.expires = min;
                    pending.answered = 0;
                    Outcome::Send(self.request(min, None))
                }
                _ => {
                    self.pending = None;
                    failed(response)
                }
            },
            _ => {
                self.pending = None;
                failed(response)
            }
        }
    }

    fn request(&mut self, expires: u32, authorization: Option<(&str, String)>) -> String {
        self.cseq += 1;
        let p = &self.params;
        let branch = format!("z9hG4bK{}", random_token(&mut self.rng, 16));
        let aor = p.aor.uri();
        let mut via_host = String::new();
        push_host(&mut via_host, p.local_ip);
        let mut from = String::new();
        if let Some(name) = p.display_name.as_deref().map(header_safe) {
            if !name.is_empty() {
                push_quoted(&mut from, &name);
                from.push(' ');
            }
        }
        from.push_str(&format!("<{aor}>;tag={}", self.from_tag));
        let mut text = format!(
            "REGISTER {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/{via} {via_host}:{port};rport{alias};branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: <{aor}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <{contact}>\r\n\
             Expires: {expires}\r\n",
            ruri = self.request_uri(),
            via = p.transport.via_name(),
            alias = p.transport.via_params(),
            port = p.local_port,
            call_id = self.call_id,
            cseq = self.cseq,
            contact = self.contact_uri(),
        );
        let user_agent = header_safe(&self.params.user_agent);
        if !user_agent.is_empty() {
            text.push_str(&format!("User-Agent: {user_agent}\r\n"));
        }
        if let Some((name, value)) = authorization {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        text
    }
}

/// When to refresh a binding granted for `expires` seconds: at three quarters of its lifetime
/// (at least 1 s), so a refresh that needs retransmissions still lands before expiry.
pub fn refresh_delay(expires: u32) -> Duration {
    Duration::from_millis((u64::from(expires) * 750).max(1000))
}

/// When to retry after the `failures`-th failed refresh in a row: 30 s doubling, at most 5 min.
pub fn retry_delay(failures: u32) -> Duration {
    Duration::from_secs((30u64 << failures.saturating_sub(1).min(4)).min(300))
}

/// `<code> <reason>`, the text of a `failed` registration state.
pub fn status_text(code: u16, reason: &str) -> String {
    let reason = header_safe(reason);
    if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code} {reason}")
    }
}

/// The `gw` token in a Request-URI that came back to us through the registrar.
pub fn contact_token(uri: &str) -> Option<&str> {
    let uri = uri.split('?').next().unwrap_or(uri);
    uri.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(CONTACT_TOKEN_PARAM)
            .then_some(value.trim())
    })
}

/// The lifetime granted to our binding (RFC 3261 §10.2.4): the `expires` parameter of our
/// Contact in the 200 OK, else the Expires header, else what we asked for.
pub fn granted_expires(response: &ResponseInfo, token: &str, asked: u32) -> u32 {
    for value in &response.contacts {
        for contact in split_contacts(value) {
            let (uri, params) = match contact.find('<') {
                Some(start) => match contact[start..].find('>') {
                    Some(len) => (
                        &contact[start + 1..start + len],
                        &contact[start + len + 1..],
                    ),
                    None => continue,
                },
                // Without angle brackets the parameters belong to the header, not the URI.
                None => match contact.split_once(';') {
                    Some((uri, params)) => (uri, params),
                    None => (contact, ""),
                },
            };
            if contact_token(uri) != Some(token) {
                continue;
            }
            let expires = params.split(';').find_map(|p| {
                let (name, value) = p.split_once('=')?;
                if name.trim().eq_ignore_ascii_case("expires") {
                    value.trim().trim_matches('"').parse::<u32>().ok()
                } else {
                    None
                }
            });
            if let Some(e) = expires {
                return e;
            }
        }
    }
    response.expires.unwrap_or(asked)
}

/// Splits a Contact header value at the commas between entries (not inside `<>` or quotes).
pub(crate) fn split_contacts(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_angle, mut in_quote, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if in_quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            '<' => in_angle = true,
            '>' => in_angle = false,
            ',' if !in_angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// A header value from client-supplied text: control characters (CR, LF, ...) would let the
/// client inject headers, so each becomes a space.
pub fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

pub(crate) fn push_host(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V6(v6) => out.push_str(&format!("[{v6}]")),
        IpAddr::V4(v4) => out.push_str(&v4.to_string()),
    }
}

/// A URI parameter name or value: `paramchar`s as they are, anything else %-escaped.
fn push_param_escaped(out: &mut String, text: &str) {
    for b in text.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:&+$".contains(&b);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

pub(crate) fn random_token(rng: &mut StdRng, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::sip::prelude::HeadersExt;

    const ALICE_HA1: &str = "2edb2c1af97b498960b7f50592ec157a";

    fn params() -> RegisterParams {
        RegisterParams {
            aor: Aor::parse("alice@127.0.0.1").unwrap(),
            display_name: Some("Alice \"A\" Liddell".into()),
            user_agent: "SylkRTC (Chrome 156 on Linux)\r\nX-Evil: 1".into(),
            ha1: Ha1(ALICE_HA1.into()),
            local_ip: "127.0.0.1".parse().unwrap(),
            local_port: 5090,
            transport: Transport::Udp,
            contact_params: Vec::new(),
            expires: 600,
        }
    }

    fn header<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.split("\r\n")
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .collect()
    }

    fn challenge(code: u16, value: &str) -> ResponseInfo {
        let mut r = ResponseInfo {
            code,
            reason: if code == 401 {
                "Unauthorized".into()
            } else {
                "Proxy Authentication Required".into()
            },
            ..Default::default()
        };
        if code == 401 {
            r.www_authenticate.push(value.into());
        } else {
            r.proxy_authenticate.push(value.into());
        }
        r
    }

    #[test]
    fn register_request_is_well_formed() {
        let mut core = RegisterCore::new(params(), 7);
        let text = core.register();
        assert!(
            text.starts_with("REGISTER sip:127.0.0.1 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        let token = core.contact_token().to_string();
        assert_eq!(
            header(&text, "Contact"),
            [format!(
                "<sip:alice@127.0.0.1:5090;transport=udp;gw={token}>"
            )]
        );
        assert_eq!(header(&text, "To"), ["<sip:alice@127.0.0.1>"]);
        let from = header(&text, "From")[0];
        assert!(
            from.starts_with("\"Alice \\\"A\\\" Liddell\" <sip:alice@127.0.0.1>;tag="),
            "{from}"
        );
        assert_eq!(header(&text, "Expires"), ["600"]);
        assert_eq!(header(&text, "CSeq"), ["1 REGISTER"]);
        // The client's User-Agent cannot add headers.
        assert_eq!(
            header(&text, "User-Agent"),
            ["SylkRTC (Chrome 156 on Linux)  X-Evil: 1"]
        );
        assert!(header(&text, "X-Evil").is_empty());
        let via = header(&text, "Via")[0];
        assert!(
            via.starts_with("SIP/2.0/UDP 127.0.0.1:5090;rport;branch=z9hG4bK"),
            "{via}"
        );
        // rsipstack parses it, and writes the Request-URI back unchanged (the digest covers it).
        let parsed = rsipstack::sip::Request::try_from(text.as_str()).unwrap();
        assert_eq!(parsed.uri.to_string(), core.request_uri());
        assert_eq!(parsed.call_id_header().unwrap().value(), core.call_id());
        let again = parsed.to_string();
        assert!(
            again.starts_with("REGISTER sip:127.0.0.1 SIP/2.0\r\n"),
            "{again}"
        );
    }

    #[test]
    fn contacts_are_unique_and_carry_push_parameters() {
        let mut p = params();
        p.contact_params = vec![
            ("pn-app".into(), "com.example.app".into()),
            ("pn-tok".into(), "abc:def/ghi;x=y z".into()),
            ("pn-type".into(), "firebase".into()),
            ("pn-device".into(), "dev1".into()),
            ("pn-silent".into(), "0".into()),
        ];
        let a = RegisterCore::new(p.clone(), 1);
        let b = RegisterCore::new(p, 2);
        assert_ne!(a.contact_token(), b.contact_token());
        assert_ne!(a.call_id(), b.call_id());
        assert_eq!(
            a.contact_uri(),
            format!(
                "sip:alice@127.0.0.1:5090;transport=udp;gw={};pn-app=com.example.app;\
                 pn-tok=abc:def/ghi%3Bx%3Dy%20z;pn-type=firebase;pn-device=dev1;pn-silent=0",
                a.contact_token()
            )
        );
        let mut v6 = params();
        v6.local_ip = "::1".parse().unwrap();
        v6.transport = Transport::Tcp;
        v6.aor = Aor::parse("example.com").unwrap();
        let mut c = RegisterCore::new(v6, 3);
        assert!(c
            .contact_uri()
            .starts_with("sip:[::1]:5090;transport=tcp;gw="));
        let text = c.register();
        assert!(text.contains("\r\nVia: SIP/2.0/TCP [::1]:5090;rport;branch="));
        assert!(text.starts_with("REGISTER sip:example.com SIP/2.0\r\n"));
    }

    #[test]
    fn challenge_answered_once_then_registered() {
        let mut core = RegisterCore::new(params(), 7);
        let first = core.register();
        let nonce = "5f2a1c3b00000000d3c6c9a0e8f1b2a3";
        let out = core.handle_response(&challenge(
            401,
            &format!("Digest realm=\"127.0.0.1\", nonce=\"{nonce}\""),
        ));
        let Outcome::Send(second) = out else {
            panic!("{out:?}")
        };
        assert_eq!(header(&second, "CSeq"), ["2 REGISTER"]);
        assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"));
        assert_eq!(header(&second, "From"), header(&first, "From"));
        assert_ne!(header(&second, "Via"), header(&first, "Via"));
        assert_eq!(
            header(&second, "Authorization"),
            [format!(
                "Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"{nonce}\", \
                 uri=\"sip:127.0.0.1\", response=\"bc533e0f5e64a9557d6a68de8800683d\""
            )]
        );
        assert!(!second.contains(ALICE_HA1));
        let token = core.contact_token().to_string();
        let ok = ResponseInfo {
            code: 200,
            reason: "OK".into(),
            contacts: vec![format!(
                "<sip:alice@127.0.0.1:5091;transport=udp;gw=other>;expires=3000, \
                 <sip:alice@127.0.0.1:5090;transport=udp;gw={token}>;expires=598;received=\"sip:x\""
            )],
            expires: Some(1000),
            ..Default::default()
        };
        assert_eq!(
            core.handle_response(&ok),
            Outcome::Registered { expires: 598 }
        );
        assert!(core.registered_once());
    }

    #[test]
    fn second_challenge_is_a_failure_with_the_registrar_reason() {
        let mut core = RegisterCore::new(params(), 7);
        core.register();
        let c = challenge(401, "Digest realm=\"127.0.0.1\", nonce=\"n1\"");
        assert!(matches!(core.handle_response(&c), Outcome::Send(_)));
        assert_eq!(
            core.handle_response(&challenge(401, "Digest realm=\"127.0.0.1\", nonce=\"n2\"")),
            Outcome::Failed {
                reason: "401 Unauthorized".into()
            }
        );
        assert!(!core.registered_once());
        // Stale nonces are answered again (up to a limit).
        let mut core = RegisterCore::new(params(), 8);
        core.register();
        let stale = challenge(407, "Digest realm=\"r\", nonce=\"n\", stale=true, qop=auth");
        for _ in 0..3 {
            let Outcome::Send(text) = core.handle_response(&stale) else {
                panic!()
            };
            assert_eq!(header(&text, "Proxy-Authorization").len(), 1);
            assert!(header(&text, "Authorization").is_empty());
        }
        assert_eq!(
            core.handle_response(&stale),
            Outcome::Failed {
                reason: "407 Proxy Authentication Required".into()
            }
        );
    }

    #[test]
    fn unanswerable_challenges_and_other_failures() {
        let mut core = RegisterCore::new(params(), 7);
        core.register();
        let sha = challenge(401, "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256");
        assert_eq!(
            core.handle_response(&sha),
            Outcome::Failed {
                reason: "401 Unauthorized".into()
            }
        );
        // A plain password (not an HA1) cannot answer.
        let mut p = params();
        p.ha1 = Ha1("alicepw".into());
        let mut core = RegisterCore::new(p, 7);
        core.register();
        assert!(matches!(
            core.handle_response(&challenge(401, "Digest realm=\"r\", nonce=\"n\"")),
            Outcome::Failed { .. }
        ));
        let mut core = RegisterCore::new(params(), 7);
        core.register();
        assert_eq!(
            core.handle_response(&ResponseInfo {
                code: 100,
                ..Default::default()
            }),
            Outcome::Wait
        );
        assert_eq!(
            core.handle_response(&ResponseInfo {
                code: 403,
                reason: "Forbidden auth ID".into(),
                ..Default::default()
            }),
            Outcome::Failed {
                reason: "403 Forbidden auth ID".into()
            }
        );
        assert_eq!(status_text(408, "Request Timeout"), "408 Request Timeout");
        assert_eq!(status_text(500, ""), "500");
    }

    #[test]
    fn interval_too_brief_retries_with_min_expires() {
        let mut core = RegisterCore::new(params(), 7);
        core.register();
        let brief = ResponseInfo {
            code: 423,
            reason: "Interval Too Brief".into(),
            min_expires: Some(1200),
            ..Default::default()
        };
        let Outcome::Send(text) = core.handle_response(&brief) else {
            panic!()
        };
        assert_eq!(header(&text, "Expires"), ["1200"]);
        assert!(matches!(
            core.handle_response(&brief),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn unregistration() {
        let mut core = RegisterCore::new(params(), 7);
        core.register();
        core.handle_response(&ResponseInfo {
            code: 200,
            ..Default::default()
        });
        let text = core.unregister();
        assert_eq!(header(&text, "Expires"), ["0"]);
        assert_eq!(header(&text, "CSeq"), ["2 REGISTER"]);
        let Outcome::Send(text) =
            core.handle_response(&challenge(401, "Digest realm=\"127.0.0.1\", nonce=\"n\""))
        else {
            panic!()
        };
        assert_eq!(header(&text, "Expires"), ["0"]);
        assert_eq!(
            core.handle_response(&ResponseInfo {
                code: 200,
                ..Default::default()
            }),
            Outcome::Unregistered
        );
    }

    #[test]
    fn granted_expiry_rules() {
        let r = |contacts: &[&str], expires| ResponseInfo {
            code: 200,
            contacts: contacts.iter().map(|s| s.to_string()).collect(),
            expires,
            ..Default::default()
        };
        assert_eq!(
            granted_expires(&r(&["<sip:a@h;gw=t1>;expires=30"], None), "t1", 600),
            30
        );
        assert_eq!(
            granted_expires(
                &r(
                    &[
                        "\"x, y\" <sip:a@h;gw=t2>;expires=5",
                        "<sip:a@h;gw=t1>;expires=40"
                    ],
                    None
                ),
                "t1",
                600
            ),
            40
        );
        assert_eq!(
            granted_expires(&r(&["<sip:a@h;gw=t2>;expires=5"], Some(900)), "t1", 600),
            900
        );
        assert_eq!(granted_expires(&r(&[], None), "t1", 600), 600);
        assert_eq!(
            granted_expires(&r(&["sip:a@h;gw=t1;expires=70"], None), "t1", 600),
            600,
            "without <>, ;gw belongs to the header"
        );
        assert_eq!(
            contact_token("sip:alice@1.2.3.4:5;transport=udp;GW=abc?x=1"),
            Some("abc")
        );
        assert_eq!(contact_token("sip:alice@1.2.3.4"), None);
    }

    #[test]
    fn delays() {
        assert_eq!(refresh_delay(600), Duration::from_secs(450));
        assert_eq!(refresh_delay(10), Duration::from_millis(7500));
        assert_eq!(refresh_delay(0), Duration::from_secs(1));
        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(2), Duration::from_secs(60));
        assert_eq!(retry_delay(10), Duration::from_secs(300));
    }
}
