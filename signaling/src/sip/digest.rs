//! HTTP Digest authentication for SIP (RFC 2617, RFC 7616 with MD5, RFC 3261 §22) computed
//! from an **HA1** instead of a password.
//!
//! sylkrtc.js never sends the password: `account-add` carries `HA1 = md5(user:realm:password)`
//! in lowercase hex, and every 401/407 challenge is answered from it. rsipstack's own digest
//! code only takes plain-text passwords, so this module does the whole job: parse the
//! `WWW-Authenticate` / `Proxy-Authenticate` value, compute the response, and format the
//! `Authorization` / `Proxy-Authorization` value. Pure functions, no IO; the caller supplies
//! the client nonce.
//!
//! ```text
//! HA1' = HA1                                  (MD5)
//!      = md5(HA1:nonce:cnonce)                (MD5-sess)
//! HA2  = md5(method:uri)                      (qop auth or none)
//!      = md5(method:uri:md5(body))            (qop auth-int)
//! response = md5(HA1':nonce:nc:cnonce:qop:HA2)  with qop
//!          = md5(HA1':nonce:HA2)                without qop (RFC 2069)
//! ```

use md5::{Digest, Md5};

/// The nonce count we send: every challenge is answered once, with a fresh client nonce.
pub const NONCE_COUNT: &str = "00000001";

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest challenge")]
    NotDigest,
    #[error("the challenge has no {0}")]
    Missing(&'static str),
    #[error("malformed challenge: {0}")]
    Malformed(String),
    /// Only MD5 and MD5-sess can be computed from an MD5 HA1.
    #[error("unsupported digest algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0}")]
    UnsupportedQop(String),
    /// The account's secret is not 32 hex characters.
    #[error("the account password is not an MD5 HA1")]
    BadHa1,
}

/// The digest algorithms an MD5 HA1 can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
}

/// The quality of protection chosen for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    Auth,
    AuthInt,
}

impl Qop {
    fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// A parsed `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// `None` when the challenge names no algorithm (MD5 then, RFC 2617 §3.2.1).
    pub algorithm: Option<Algorithm>,
    /// The qop chosen from the offered list (`auth` preferred); `None` when none was offered.
    pub qop: Option<Qop>,
    /// `stale=true`: the credentials were right, only the nonce had expired.
    pub stale: bool,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` or `Proxy-Authenticate` header value.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let value = value.trim();
        let (scheme, rest) = value
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = None;
        let mut qop_offered = None;
        let mut stale = false;
        for (name, value) in auth_params(rest)? {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => opaque = Some(value),
                "algorithm" => {
                    algorithm = Some(if value.eq_ignore_ascii_case("MD5") {
                        Algorithm::Md5
                    } else if value.eq_ignore_ascii_case("MD5-sess") {
                        Algorithm::Md5Sess
                    } else {
                        return Err(DigestError::UnsupportedAlgorithm(value));
                    })
                }
                "qop" => qop_offered = Some(value),
                "stale" => stale = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        let qop = match qop_offered {
            None => None,
            Some(list) => {
                let offered: Vec<String> = list
                    .split(',')
                    .map(|q| q.trim().to_ascii_lowercase())
                    .filter(|q| !q.is_empty())
                    .collect();
                if offered.iter().any(|q| q == "auth") {
                    Some(Qop::Auth)
                } else if offered.iter().any(|q| q == "auth-int") {
                    Some(Qop::AuthInt)
                } else if offered.is_empty() {
                    None
                } else {
                    return Err(DigestError::UnsupportedQop(list));
                }
            }
        };
        Ok(Challenge {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            opaque,
            algorithm,
            qop,
            stale,
        })
    }
}

/// What is being authenticated: the request's method, Request-URI (exactly as sent) and body.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    /// Only used with `qop=auth-int`.
    pub body: &'a [u8],
}

/// The `Authorization` (for a 401) or `Proxy-Authorization` (for a 407) header value answering
/// `challenge` as `username` with the account's `ha1`. `cnonce` is the client nonce (random,
/// from the caller); it is unused when the challenge offered no qop.
pub fn authorization(
    challenge: &Challenge,
    username: &str,
    ha1: &str,
    request: RequestLine<'_>,
    cnonce: &str,
) -> Result<String, DigestError> {
    let response = response(challenge, ha1, request, cnonce)?;
    let mut out = String::with_capacity(256);
    out.push_str("Digest username=");
    push_quoted(&mut out, username);
    out.push_str(", realm=");
    push_quoted(&mut out, &challenge.realm);
    out.push_str(", nonce=");
    push_quoted(&mut out, &challenge.nonce);
    out.push_str(", uri=");
    push_quoted(&mut out, request.uri);
    out.push_str(", response=");
    push_quoted(&mut out, &response);
    match challenge.algorithm {
        Some(Algorithm::Md5) => out.push_str(", algorithm=MD5"),
        Some(Algorithm::Md5Sess) => out.push_str(", algorithm=MD5-sess"),
        None => {}
    }
    if let Some(opaque) = &challenge.opaque {
        out.push_str(", opaque=");
        push_quoted(&mut out, opaque);
    }
    if let Some(qop) = challenge.qop {
        // RFC 2617 §3.2.2: qop and nc are tokens, cnonce a quoted string.
        out.push_str(", qop=");
        out.push_str(qop.as_str());
        out.push_str(", nc=");
        out.push_str(NONCE_COUNT);
        out.push_str(", cnonce=");
        push_quoted(&mut out, cnonce);
    }
    Ok(out)
}

/// The `response` value alone (32 lowercase hex characters).
pub fn response(
    challenge: &Challenge,
    ha1: &str,
    request: RequestLine<'_>,
    cnonce: &str,
) -> Result<String, DigestError> {
    if ha1.len() != 32 || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestError::BadHa1);
    }
    // The registrar hashes the lowercase hex form.
    let ha1 = ha1.to_ascii_lowercase();
    let nonce = &challenge.nonce;
    let ha1 = match challenge.algorithm {
        Some(Algorithm::Md5Sess) => md5_hex(format!("{ha1}:{nonce}:{cnonce}")),
        _ => ha1,
    };
    let ha2 = match challenge.qop {
        Some(Qop::AuthInt) => md5_hex(format!(
            "{}:{}:{}",
            request.method,
            request.uri,
            md5_hex(request.body)
        )),
        _ => md5_hex(format!("{}:{}", request.method, request.uri)),
    };
    Ok(match challenge.qop {
        Some(qop) => md5_hex(format!(
            "{ha1}:{nonce}:{NONCE_COUNT}:{cnonce}:{}:{ha2}",
            qop.as_str()
        )),
        None => md5_hex(format!("{ha1}:{nonce}:{ha2}")),
    })
}

/// Lowercase hex MD5 of `data`.
pub fn md5_hex(data: impl AsRef<[u8]>) -> String {
    let digest = Md5::digest(data.as_ref());
    let mut out = String::with_capacity(32);
    for b in digest.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Appends `value` as a quoted-string (RFC 3261 §25.1: `"` and `\` escaped; control
/// characters, which a quoted-string cannot carry, dropped).
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Splits `name=value, name="quoted value", ...` into pairs (quotes and escapes removed).
fn auth_params(text: &str) -> Result<Vec<(String, String)>, DigestError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_ascii_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            return Err(DigestError::Malformed(format!(
                "parameter {name} has no value"
            )));
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(DigestError::Malformed(format!(
                    "unterminated quoted value of {name}"
                )));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_ascii_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_HA1: &str = "2edb2c1af97b498960b7f50592ec157a";
    const NONCE: &str = "5f2a1c3b00000000d3c6c9a0e8f1b2a3";

    fn register() -> RequestLine<'static> {
        RequestLine {
            method: "REGISTER",
            uri: "sip:127.0.0.1",
            body: b"",
        }
    }

    #[test]
    fn md5_of_the_kamailio_test_user() {
        // peers.md: HA1 of alice:127.0.0.1:alicepw.
        assert_eq!(md5_hex("alice:127.0.0.1:alicepw"), ALICE_HA1);
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn rfc2617_example_from_its_ha1() {
        // RFC 2617 §3.5, with HA1 = md5("Mufasa:testrealm@host.com:Circle Of Life").
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let challenge = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(challenge.qop, Some(Qop::Auth));
        let request = RequestLine {
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        };
        let value = authorization(&challenge, "Mufasa", &ha1, request, "0a4f113b").unwrap();
        assert_eq!(
            value,
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
             response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001, cnonce=\"0a4f113b\""
        );
    }

    #[test]
    fn kamailio_register_challenge_without_qop() {
        // Kamailio's www_challenge("$td", "0"): no qop.
        let challenge =
            Challenge::parse(&format!("Digest realm=\"127.0.0.1\", nonce=\"{NONCE}\"")).unwrap();
        assert_eq!(challenge.qop, None);
        assert_eq!(challenge.algorithm, None);
        let value = authorization(&challenge, "alice", ALICE_HA1, register(), "unused").unwrap();
        assert_eq!(
            value,
            format!(
                "Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"{NONCE}\", \
                 uri=\"sip:127.0.0.1\", response=\"bc533e0f5e64a9557d6a68de8800683d\""
            )
        );
    }

    #[test]
    fn qop_auth_and_algorithm_md5() {
        let challenge = Challenge::parse(&format!(
            "Digest realm=\"127.0.0.1\", nonce=\"{NONCE}\", qop=\"auth\", algorithm=MD5"
        ))
        .unwrap();
        let value = authorization(&challenge, "alice", ALICE_HA1, register(), "abcdef12").unwrap();
        assert!(
            value.contains("response=\"ec3ae0248e82d185b80ca867de4d2864\""),
            "{value}"
        );
        assert!(value.contains(", algorithm=MD5,"), "{value}");
        assert!(
            value.ends_with(", qop=auth, nc=00000001, cnonce=\"abcdef12\""),
            "{value}"
        );
        // The same from an uppercase HA1.
        let upper = ALICE_HA1.to_ascii_uppercase();
        assert_eq!(
            response(&challenge, &upper, register(), "abcdef12").unwrap(),
            "ec3ae0248e82d185b80ca867de4d2864"
        );
    }

    #[test]
    fn md5_sess_and_auth_int() {
        let sess = Challenge::parse(&format!(
            "Digest algorithm=MD5-sess, realm=\"127.0.0.1\", nonce=\"{NONCE}\", qop=auth"
        ))
        .unwrap();
        let invite = RequestLine {
            method: "INVITE",
            uri: "sip:bob@127.0.0.1",
            body: b"",
        };
        assert_eq!(
            response(&sess, ALICE_HA1, invite, "abcdef12").unwrap(),
            "3a8b8c058977239cd2dea0dce74d62c3"
        );
        let int = Challenge::parse(&format!(
            "Digest realm=\"127.0.0.1\", nonce=\"{NONCE}\", qop=\"auth-int\""
        ))
        .unwrap();
        let message = RequestLine {
            method: "MESSAGE",
            uri: "sip:bob@127.0.0.1",
            body: b"hello",
        };
        assert_eq!(
            response(&int, ALICE_HA1, message, "abcdef12").unwrap(),
            "a53ea36291d4e7373859cb28b5ca23a3"
        );
        assert!(authorization(&int, "alice", ALICE_HA1, message, "abcdef12")
            .unwrap()
            .contains("qop=auth-int"));
    }

    #[test]
    fn parsing_rules() {
        let c = Challenge::parse(
            "digest  realm = \"a \\\"quoted\\\" realm\" ,nonce=abc,stale=TRUE, opaque=\"\", domain=\"sip:x\"",
        )
        .unwrap();
        assert_eq!(c.realm, "a \"quoted\" realm");
        assert_eq!(c.nonce, "abc");
        assert!(c.stale);
        assert_eq!(c.opaque.as_deref(), Some(""));
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::NotDigest)
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"x\""),
            Err(DigestError::Missing("realm"))
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x\""),
            Err(DigestError::Missing("nonce"))
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-256"),
            Err(DigestError::UnsupportedAlgorithm("SHA-256".into()))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=\"x\", nonce=\"y\", qop=\"auth-conf\""),
            Err(DigestError::UnsupportedQop(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"x, nonce=\"y\""),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm"),
            Err(DigestError::Malformed(_))
        ));
    }

    #[test]
    fn quoting_in_the_answer() {
        let c = Challenge::parse("Digest realm=\"r\\\"1\", nonce=\"n\"").unwrap();
        let v = authorization(&c, "a\"b\\c\r\n", ALICE_HA1, register(), "x").unwrap();
        assert!(
            v.starts_with("Digest username=\"a\\\"b\\\\c\", realm=\"r\\\"1\""),
            "{v}"
        );
        assert!(!v.contains('\r') && !v.contains('\n'));
    }

    #[test]
    fn a_plain_password_is_refused() {
        let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert_eq!(
            response(&c, "alicepw", register(), "x"),
            Err(DigestError::BadHa1)
        );
        assert_eq!(
            response(&c, "zzdb2c1af97b498960b7f50592ec157a", register(), "x"),
            Err(DigestError::BadHa1)
        );
    }
}
