//! SIP AOR validation as done by SylkServer (which relies on PJSIP's SIP URI
//! parser).
//!
//! This is a small hand-written scanner for the subset of the PJSIP grammar
//! that matters for AORs:
//!
//! ```text
//! sip-uri  = ("sip:" / "sips:") [ userinfo "@" ] hostport [ params ] [ headers ]
//! userinfo = user [ ":" password ]
//! hostport = host [ ":" port ]
//! host     = "[" 1*(HEXDIG / ":" / ".") "]" / 1*(ALNUM / "-" / "_" / ".")
//! port     = 1*DIGIT                      ; value <= 65535
//! params   = *( ";" pname [ "=" pvalue ] )
//! headers  = "?" hname "=" hvalue *( "&" hname "=" hvalue )
//! ```
//!
//! Escapes (`%` followed by exactly two hex digits) count as one character of
//! the user, password, parameter and header character sets.

/// Error returned by [`normalize_aor`]; holds the original input value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SIP URI: {0}")]
pub struct InvalidUri(pub String);

/// Strips a leading `sip:` or `sips:` (case-sensitive, exactly those two prefixes), checks that
/// "sip:" + rest parses as a SIP URI, and returns the rest (without scheme).
pub fn normalize_aor(value: &str) -> Result<String, InvalidUri> {
    let aor = match value.split_once(':') {
        Some(("sip" | "sips", rest)) => rest,
        _ => value,
    };
    if parse_after_scheme(aor.as_bytes()) {
        Ok(aor.to_owned())
    } else {
        Err(InvalidUri(value.to_owned()))
    }
}

/// true if `uri` (a full URI beginning with `sip:` or `sips:`, scheme case-insensitive) is a valid SIP URI.
pub fn is_valid_sip_uri(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") =>
        {
            parse_after_scheme(rest.as_bytes())
        }
        _ => false,
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_unreserved(b: u8) -> bool {
    is_alnum(b) || b"-_.!~*'()".contains(&b)
}

fn is_user(b: u8) -> bool {
    is_unreserved(b) || b"&=+$,;?/".contains(&b)
}

fn is_passwd(b: u8) -> bool {
    is_unreserved(b) || b"&=+$,".contains(&b)
}

fn is_host(b: u8) -> bool {
    is_alnum(b) || b"-_.".contains(&b)
}

fn is_ipv6(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

fn is_param(b: u8) -> bool {
    is_unreserved(b) || b"[]/:&+$".contains(&b)
}

fn is_hdr(b: u8) -> bool {
    is_unreserved(b) || b"[]/?:+$".contains(&b)
}

/// Byte cursor over the part of the URI after the scheme.
struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Consumes characters of `set` (without escapes); returns how many.
    fn scan_plain(&mut self, set: fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(set) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Consumes characters of `set` and `%HH` escapes; returns how many
    /// characters (an escape counts as one), or `None` on a malformed escape.
    fn scan_escaped(&mut self, set: fn(u8) -> bool) -> Option<usize> {
        let mut count = 0;
        loop {
            match self.peek() {
                Some(b'%') => {
                    let h1 = self.s.get(self.pos + 1).copied();
                    let h2 = self.s.get(self.pos + 2).copied();
                    if h1.is_some_and(|b| b.is_ascii_hexdigit())
                        && h2.is_some_and(|b| b.is_ascii_hexdigit())
                    {
                        self.pos += 3;
                        count += 1;
                    } else {
                        return None;
                    }
                }
                Some(b) if set(b) => {
                    self.pos += 1;
                    count += 1;
                }
                _ => return Some(count),
            }
        }
    }

    /// Like [`Self::scan_escaped`] but requires at least one character.
    fn scan_escaped1(&mut self, set: fn(u8) -> bool) -> bool {
        matches!(self.scan_escaped(set), Some(n) if n > 0)
    }

    fn userinfo(&mut self) -> bool {
        if !self.scan_escaped1(is_user) {
            return false;
        }
        if self.eat(b':') && !self.scan_escaped1(is_passwd) {
            return false;
        }
        self.eat(b'@')
    }

    fn hostport(&mut self) -> bool {
        if self.eat(b'[') {
            if self.scan_plain(is_ipv6) == 0 || !self.eat(b']') {
                return false;
            }
        } else if self.scan_plain(is_host) == 0 {
            return false;
        }
        if self.eat(b':') {
            let start = self.pos;
            if self.scan_plain(|b| b.is_ascii_digit()) == 0 {
                return false;
            }
            let port = self.s[start..self.pos].iter().try_fold(0u32, |acc, &d| {
                acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
            });
            return port.is_some_and(|p| p <= 65535);
        }
        true
    }

    fn params(&mut self) -> bool {
        while self.eat(b';') {
            if !self.scan_escaped1(is_param) {
                return false;
            }
            if self.eat(b'=') && !self.scan_escaped1(is_param) {
                return false;
            }
        }
        true
    }

    fn headers(&mut self) -> bool {
        if !self.eat(b'?') {
            return true;
        }
        loop {
            if !self.scan_escaped1(is_hdr) || !self.eat(b'=') || self.scan_escaped(is_hdr).is_none()
            {
                return false;
            }
            if !self.eat(b'&') {
                return true;
            }
        }
    }
}

/// Validates everything after `sip:`.
fn parse_after_scheme(s: &[u8]) -> bool {
    let mut sc = Scanner { s, pos: 0 };
    // PJSIP probes for '@' before any of ' ', '\n', '>' to decide whether a
    // user part is present.
    let has_user = s
        .iter()
        .find(|&&b| matches!(b, b'@' | b' ' | b'\n' | b'>'))
        .is_some_and(|&b| b == b'@');
    if has_user && !sc.userinfo() {
        return false;
    }
    sc.hostport() && sc.params() && sc.headers() && sc.at_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> String {
        match normalize_aor(v) {
            Ok(s) => s,
            Err(e) => panic!("expected {v:?} to be valid, got {e}"),
        }
    }

    fn bad(v: &str) {
        assert_eq!(
            normalize_aor(v),
            Err(InvalidUri(v.to_owned())),
            "expected {v:?} to be invalid"
        );
    }

    #[test]
    fn strips_scheme() {
        assert_eq!(ok("sip:alice@example.com"), "alice@example.com");
        assert_eq!(ok("sips:bob@example.com"), "bob@example.com");
        assert_eq!(ok("alice@example.com"), "alice@example.com");
        assert_eq!(ok("sip:sip:alice@x"), "sip:alice@x");
        assert_eq!(ok("SIP:alice@x"), "SIP:alice@x");
        assert_eq!(ok("Sips:alice@x"), "Sips:alice@x");
        assert_eq!(ok("example.com"), "example.com");
        assert_eq!(ok("sip:example.com"), "example.com");
    }

    #[test]
    fn no_case_folding() {
        assert_eq!(ok("Alice@Example.COM"), "Alice@Example.COM");
    }

    #[test]
    fn error_holds_original_value() {
        let err = normalize_aor("sip:alice@").unwrap_err();
        assert_eq!(err, InvalidUri("sip:alice@".to_owned()));
        assert_eq!(err.to_string(), "invalid SIP URI: sip:alice@");
    }

    #[test]
    fn userinfo() {
        ok("+31208005100@example.com");
        ok("alice:secret@example.com");
        ok("alice%41@example.com");
        ok("%41%4a%4F@example.com");
        ok("a-b_c.d!e~f*g'h(i)j@example.com");
        ok("a&b=c+d$e,f;g?h/i@example.com");
        ok("u:p&=+$,-_.!~*'()%20@example.com");
        ok("example.com;foo=a@b");
        bad("alice%4@example.com");
        bad("alice%@example.com");
        bad("alice%zz@example.com");
        bad("alice%4");
        bad("alice@");
        bad("@example.com");
        bad(":pw@example.com");
        bad("alice:@example.com");
        bad("alice:p:q@example.com");
        bad("alice:p;q@example.com");
        bad("alice:p/q@example.com");
        bad("alice bob@example.com");
        bad("alice@bob@example.com");
        bad("al\"ice@example.com");
        bad("al<ice@example.com");
        bad("al#ice@example.com");
        bad("al[ice@example.com");
    }

    #[test]
    fn hostport() {
        ok("alice@example.com:5060");
        ok("alice@example.com:0");
        ok("alice@example.com:65535");
        ok("alice@example.com:000065535");
        ok("alice@192.0.2.1");
        ok("alice@my_host-1.example.com");
        ok("alice@[::1]");
        ok("alice@[2001:db8::1]:5060");
        ok("alice@[::ffff:192.0.2.1]");
        ok("[::1]");
        ok("localhost:5060");
        bad("alice@example.com:abc");
        bad("alice@example.com:70000");
        bad("alice@example.com:65536");
        bad("alice@example.com:99999999999999999999999");
        bad("alice@example.com:");
        bad("alice@example.com:-1");
        bad("alice@example.com:+5060");
        bad("alice@[]");
        bad("alice@[::1");
        bad("alice@[::g]");
        bad("alice@[::1]x");
        bad("alice@::1");
        bad("alice@exa mple.com");
        bad("alice@example.com ");
        bad(" alice@example.com");
        bad("alice@example.com\n");
        bad("alice@example.com>");
        bad("alice@exämple.com");
        bad("tel:+123");
        bad("sip:");
        bad("sips:");
        bad("");
        bad(":");
    }

    #[test]
    fn params_and_headers() {
        ok("alice@[::1]:5061;transport=tls");
        ok("alice@example.com;transport=tcp?subject=hi");
        ok("alice@example.com;lr");
        ok("alice@example.com;lr;maddr=[::1]:5060/x&y+$");
        ok("alice@example.com;a%20b=c%2Fd");
        ok("alice@example.com?subject=");
        ok("alice@example.com?a=1&b=2&c=");
        ok("alice@example.com?a=[x]/y?z:w+$");
        ok("example.com;transport=udp");
        bad("alice@example.com;");
        bad("alice@example.com;=x");
        bad("alice@example.com;a=");
        bad("alice@example.com;a=b=c");
        bad("alice@example.com;a=%2");
        bad("alice@example.com?");
        bad("alice@example.com?a");
        bad("alice@example.com?=b");
        bad("alice@example.com?a=b&");
        bad("alice@example.com?a=b;c=d");
        bad("alice@example.com?a=b c");
        bad("alice@example.com?a=b?c=d&e=f%g");
        bad("alice@example.com#frag");
        bad("alice@example.com?a=b#x");
    }

    #[test]
    fn is_valid_sip_uri_scheme() {
        assert!(is_valid_sip_uri("sip:alice@example.com"));
        assert!(is_valid_sip_uri("sips:alice@example.com"));
        assert!(is_valid_sip_uri("SIP:alice@example.com"));
        assert!(is_valid_sip_uri("SiPs:alice@example.com"));
        assert!(is_valid_sip_uri("sip:example.com"));
        assert!(!is_valid_sip_uri("alice@example.com"));
        assert!(!is_valid_sip_uri("tel:+123"));
        assert!(!is_valid_sip_uri("sipx:alice@example.com"));
        assert!(!is_valid_sip_uri("sip:"));
        assert!(!is_valid_sip_uri(""));
        assert!(!is_valid_sip_uri("sip:alice@"));
        assert!(!is_valid_sip_uri(" sip:alice@example.com"));
    }

    #[test]
    fn never_panics() {
        let pieces = [
            "",
            "sip:",
            "sips:",
            "SIP:",
            ":",
            "@",
            "%",
            "%4",
            "%41",
            "[",
            "]",
            "[::1]",
            ";",
            "=",
            "?",
            "&",
            "a",
            "é",
            "中",
            "😀",
            "\u{0}",
            "\n",
            " ",
            ">",
            "<",
            "\"",
            "65535",
            "99999",
            "\u{10ffff}",
            "\u{fffd}",
            "\\",
            "#",
        ];
        let mut count = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}");
                    let _ = normalize_aor(&s);
                    let _ = is_valid_sip_uri(&s);
                    let t = format!("sip:{a}x{b}@h{c}");
                    let _ = normalize_aor(&t);
                    let _ = is_valid_sip_uri(&t);
                    count += 1;
                }
            }
        }
        assert_eq!(count, pieces.len().pow(3));
        // Multi-byte characters right after escapes and ports must not confuse slicing.
        for s in [
            "a%é@x",
            "a%4é@x",
            "a@x:5é",
            "a@[é]",
            "a@x;é=é",
            "a@x?é=é",
            "é:é@é",
        ] {
            assert!(normalize_aor(s).is_err(), "{s:?}");
        }
    }
}
