//! Addresses of the SIP side: the configured outbound proxy (`sip:host[:port][;transport=..]`),
//! resolved targets, and the parts of an account's AOR that a REGISTER needs. No IO.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// The transports the user agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    /// TLS over TCP (`transport=tls`, `sips:`), port 5061 by default.
    Tls,
}

impl Transport {
    /// The lowercase name used in `;transport=` and (uppercase) in Via.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// The port a host without one is reached on (RFC 3261 §19.1.2).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            _ => 5060,
        }
    }

    /// Over a stream (TCP or TLS): no retransmissions, a connection to keep.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// Via parameters after `rport`: `;alias` over TLS (RFC 5923), so that a proxy may send
    /// its requests for our Contact back over the connection we opened (the gateway does not
    /// listen for TLS).
    pub fn via_params(self) -> &'static str {
        match self {
            Transport::Tls => ";alias",
            _ => "",
        }
    }

    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request goes: one resolved address and transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};transport={}", self.addr, self.transport)
    }
}

/// The host of a SIP URI: an IP literal or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// The outbound proxy setting: `sip:host[:port][;transport=udp|tcp]`. As in SylkServer's
/// `outbound_sip_proxy`, the scheme may be left out; the transport defaults to UDP and the port
/// (when the host is an IP) to 5060. A host name without a port is resolved with RFC 3263 SRV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUri {
    pub host: Host,
    pub port: Option<u16>,
    /// `None`: no `;transport=` given (UDP, or what SRV finds for a name).
    pub transport: Option<Transport>,
}

/// Why a proxy setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadProxyUri(String);

impl FromStr for ProxyUri {
    type Err = BadProxyUri;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| BadProxyUri(format!("{text:?} is not a SIP proxy URI ({why})"));
        let rest = if let Some((_, rest)) = text
            .split_once(':')
            .filter(|(s, _)| s.eq_ignore_ascii_case("sip") || s.eq_ignore_ascii_case("sips"))
        {
            rest
        } else {
            text
        };
        let mut parts = rest.split(';');
        let hostport = parts.next().unwrap_or_default();
        if hostport.contains('@') {
            return Err(bad("a proxy URI has no user part"));
        }
        // `sips:` means TLS (RFC 3261 §19.1); a transport parameter may only say the same.
        let sips = text
            .split_once(':')
            .is_some_and(|(s, _)| s.eq_ignore_ascii_case("sips"));
        let mut transport = sips.then_some(Transport::Tls);
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            match name.to_ascii_lowercase().as_str() {
                "transport" => {
                    let t = match value.to_ascii_lowercase().as_str() {
                        "udp" => Transport::Udp,
                        "tcp" => Transport::Tcp,
                        "tls" => Transport::Tls,
                        _ => return Err(bad("transport must be udp, tcp or tls")),
                    };
                    if sips && t != Transport::Tls {
                        return Err(bad("a sips: proxy is reached over TLS only"));
                    }
                    transport = Some(t);
                }
                "lr" => {}
                "" => return Err(bad("empty parameter")),
                _ => return Err(bad("unknown parameter")),
            }
        }
        let (host, port) = split_hostport(hostport).ok_or_else(|| bad("bad host or port"))?;
        Ok(ProxyUri {
            host,
            port,
            transport,
        })
    }
}

impl fmt::Display for ProxyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(t) = self.transport {
            write!(f, ";transport={t}")?;
        }
        Ok(())
    }
}

/// Splits `host[:port]` (IPv6 in brackets). `None` if either part is malformed.
pub fn split_hostport(text: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = ip.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let host = match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => Host::Ip(IpAddr::V4(ip)),
            Err(_) => {
                let valid = !host.is_empty()
                    && host.len() <= 253
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
                    && !host.starts_with('.')
                    && !host.starts_with('-')
                    // A dotted quad that did not parse (300.1.1.1) is not a name.
                    && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
                if !valid {
                    return None;
                }
                Host::Name(host.to_ascii_lowercase())
            }
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return None,
                Ok(p) => Some(p),
            }
        }
    };
    Some((host, port))
}

/// The next hop named by a SIP URI (a route entry or a remote target, without `<>`):
/// `sip:[user@]host[:port][;transport=udp|tcp][;...]`. `None` for other schemes (`sips:`),
/// transports the user agent does not speak, or a malformed host.
pub fn uri_hop(uri: &str) -> Option<(Host, Option<u16>, Option<Transport>)> {
    let (scheme, rest) = uri.trim().split_once(':')?;
    let sips = scheme.eq_ignore_ascii_case("sips");
    if !scheme.eq_ignore_ascii_case("sip") && !sips {
        return None;
    }
    let rest = rest.split('?').next().unwrap_or(rest);
    let mut parts = rest.split(';');
    let userhost = parts.next().unwrap_or_default();
    let hostport = userhost
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(userhost);
    let (host, port) = split_hostport(hostport)?;
    let mut transport = sips.then_some(Transport::Tls);
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("transport") {
            transport = Some(match value.trim().to_ascii_lowercase().as_str() {
                "udp" if !sips => Transport::Udp,
                "tcp" if !sips => Transport::Tcp,
                "tls" => Transport::Tls,
                _ => return None,
            });
        }
    }
    Some((host, port, transport))
}

/// The host of a SIP URI (`sip:` or `sips:`, with or without a user and port): a name in
/// lower case, or an IP address as text.
pub fn uri_host(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.trim().split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let userhost = rest.split([';', '?']).next().unwrap_or_default();
    let hostport = userhost
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(userhost);
    Some(match split_hostport(hostport)?.0 {
        Host::Ip(ip) => ip.to_string(),
        Host::Name(name) => name,
    })
}

/// An account's AOR (`user@host[:port]`, as normalised by the sylkRTC validator, without
/// scheme) split for a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aor {
    /// The user part, as written (may be empty for a domain-only account).
    pub user: String,
    /// `host[:port]` as written: the REGISTER Request-URI is `sip:<hostport>`.
    pub hostport: String,
}

impl Aor {
    /// Splits `user@host[:port][;params][?headers]`; URI parameters and headers are dropped.
    pub fn parse(account: &str) -> Option<Aor> {
        let (user, rest) = match account.rsplit_once('@') {
            Some((u, r)) => (u, r),
            None => ("", account),
        };
        let hostport = rest.split([';', '?']).next().unwrap_or_default();
        split_hostport(hostport)?;
        // A password in the userinfo has no place in an AOR.
        let user = user.split(':').next().unwrap_or_default();
        Some(Aor {
            user: user.to_string(),
            hostport: hostport.to_string(),
        })
    }

    /// `sip:user@hostport` (or `sip:hostport`).
    pub fn uri(&self) -> String {
        if self.user.is_empty() {
            format!("sip:{}", self.hostport)
        } else {
            format!("sip:{}@{}", self.user, self.hostport)
        }
    }

    /// The host and port to look up when there is no outbound proxy.
    pub fn host_port(&self) -> (Host, Option<u16>) {
        // Checked in `parse`.
        split_hostport(&self.hostport).unwrap_or((Host::Name(String::new()), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_uris() {
        let p: ProxyUri = "sip:127.0.0.1:5060;transport=udp".parse().unwrap();
        assert_eq!(p.host, Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(p.port, Some(5060));
        assert_eq!(p.transport, Some(Transport::Udp));
        assert_eq!(p.to_string(), "sip:127.0.0.1:5060;transport=udp");
        let p: ProxyUri = "proxy.example.com;transport=TCP".parse().unwrap();
        assert_eq!(p.host, Host::Name("proxy.example.com".into()));
        assert_eq!(p.port, None);
        assert_eq!(p.transport, Some(Transport::Tcp));
        let p: ProxyUri = "SIP:[::1]:5070;lr".parse().unwrap();
        assert_eq!(p.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(p.to_string(), "sip:[::1]:5070");
        for bad in [
            "",
            "sip:",
            "sip:127.0.0.1:0",
            "sip:127.0.0.1:70000",
            "sip:127.0.0.1:x",
            "sip:alice@127.0.0.1",
            "sip:127.0.0.1;transport=sctp",
            "sips:127.0.0.1;transport=udp",
            "sip:127.0.0.1;foo=bar",
            "http://127.0.0.1",
            "sip:300.1.1.1",
            "sip:bad host",
            "sip:[::1",
        ] {
            assert!(bad.parse::<ProxyUri>().is_err(), "{bad:?} accepted");
        }
        // TLS: `transport=tls`, or a `sips:` URI.
        for tls in [
            "sip:127.0.0.1;transport=tls",
            "sips:127.0.0.1",
            "SIPS:127.0.0.1;transport=TLS",
        ] {
            let p: ProxyUri = tls.parse().unwrap();
            assert_eq!(p.transport, Some(Transport::Tls), "{tls}");
            assert_eq!(p.to_string(), "sip:127.0.0.1;transport=tls");
        }
        assert_eq!(Transport::Tls.default_port(), 5061);
        let e = "sip:127.0.0.1;transport=sctp"
            .parse::<ProxyUri>()
            .unwrap_err();
        assert!(e.to_string().contains("udp, tcp or tls"), "{e}");
    }

    #[test]
    fn aors() {
        let a = Aor::parse("alice@127.0.0.1").unwrap();
        assert_eq!(a.user, "alice");
        assert_eq!(a.hostport, "127.0.0.1");
        assert_eq!(a.uri(), "sip:alice@127.0.0.1");
        assert_eq!(
            a.host_port(),
            (Host::Ip("127.0.0.1".parse().unwrap()), None)
        );
        let a = Aor::parse("bob@Example.com:5070;transport=tcp?x=y").unwrap();
        assert_eq!(a.hostport, "Example.com:5070");
        assert_eq!(
            a.host_port(),
            (Host::Name("example.com".into()), Some(5070))
        );
        let a = Aor::parse("example.com").unwrap();
        assert_eq!(a.user, "");
        assert_eq!(a.uri(), "sip:example.com");
        assert!(Aor::parse("alice@").is_none());
    }

    #[test]
    fn uri_hops() {
        assert_eq!(
            uri_hop("sip:127.0.0.1;lr;ftag=abc"),
            Some((Host::Ip("127.0.0.1".parse().unwrap()), None, None))
        );
        assert_eq!(
            uri_hop("sip:bob@[::1]:5070;transport=TCP"),
            Some((
                Host::Ip("::1".parse().unwrap()),
                Some(5070),
                Some(Transport::Tcp)
            ))
        );
        assert_eq!(
            uri_hop("SIP:proxy.example.com:5062?x=y"),
            Some((Host::Name("proxy.example.com".into()), Some(5062), None))
        );
        // Kamailio's record-route toward a TLS side.
        assert_eq!(
            uri_hop("sip:127.0.0.1:5061;transport=tls;r2=on;lr"),
            Some((
                Host::Ip("127.0.0.1".parse().unwrap()),
                Some(5061),
                Some(Transport::Tls)
            ))
        );
        assert_eq!(
            uri_hop("sips:1.2.3.4").map(|h| h.2),
            Some(Some(Transport::Tls))
        );
        for bad in [
            "sips:1.2.3.4;transport=udp",
            "sip:1.2.3.4;transport=sctp",
            "tel:+123",
            "sip:",
            "nonsense",
        ] {
            assert_eq!(uri_hop(bad), None, "{bad}");
        }
    }
}
