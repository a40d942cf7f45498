//! Which SIP sources the gateway trusts, and with what (pure; the user agent feeds it the
//! outbound proxy's addresses as it resolves them).
//!
//! A request outside a dialog is judged by the socket address it arrived from, never by
//! anything its sender wrote (Via `received`/sent-by, From):
//!
//! * with `sip_trusted_peers` set (*strict*), only those networks and the outbound proxy may
//!   send requests outside dialogs at all; others get 403;
//! * without it (the default), anyone may call and send chat messages (as through any SIP
//!   proxy), but what changes stored data (API messages, copies from the user's own SIP
//!   devices, IMDNs, API tokens) and what wakes devices by push is taken only from the
//!   outbound proxy's addresses, or from loopback when no proxy is configured.
//!
//! Digest challenges are answered only for the account's own domain as realm, or when the
//! challenge came from the outbound proxy, or for the realms the operator lists
//! ([`RealmPolicy`]): a far end cannot collect digests of a user's password for offline
//! guessing under a realm of its choosing.

use std::net::IpAddr;
use std::sync::RwLock;

/// What a request from a source would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// A call (INVITE) or a chat message, delivered live and kept as received.
    Ordinary,
    /// A change to stored data in a user's name (API message, a copy from the user's SIP
    /// device, an IMDN, an API token), or a push to the user's devices.
    StoredChange,
}

/// The trusted sources.
#[derive(Debug)]
pub struct Sources {
    /// `sip_trusted_peers`: networks as (address, prefix length).
    configured: Vec<(IpAddr, u8)>,
    /// Whether an outbound proxy is configured (even while its name does not resolve).
    has_proxy: bool,
    /// The outbound proxy's current addresses.
    proxy: RwLock<Vec<IpAddr>>,
}

impl Sources {
    pub fn new(configured: Vec<(IpAddr, u8)>, has_proxy: bool) -> Self {
        Sources {
            configured,
            has_proxy,
            proxy: RwLock::new(Vec::new()),
        }
    }

    /// The outbound proxy resolved to these addresses.
    pub fn set_proxy_addresses(&self, ips: Vec<IpAddr>) {
        *self.proxy.write().unwrap_or_else(|e| e.into_inner()) = ips;
    }

    pub fn proxy_addresses(&self) -> Vec<IpAddr> {
        self.proxy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `ip` is one of the outbound proxy's addresses.
    pub fn is_proxy(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.proxy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|p| canonical(*p) == ip)
    }

    /// Whether `sip_trusted_peers` is set: then untrusted sources may send nothing outside
    /// dialogs.
    pub fn strict(&self) -> bool {
        !self.configured.is_empty()
    }

    /// Whether `ip` is trusted: the outbound proxy, a configured network, or (nothing
    /// configured, no proxy) loopback.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if self.is_proxy(ip) {
            return true;
        }
        if self.strict() {
            return self
                .configured
                .iter()
                .any(|(net, bits)| in_network(ip, canonical(*net), *bits));
        }
        !self.has_proxy && ip.is_loopback()
    }

    /// Whether a request outside a dialog from `ip` may do `what`.
    pub fn admits(&self, ip: IpAddr, what: Privilege) -> bool {
        if self.trusts(ip) {
            return true;
        }
        match what {
            Privilege::Ordinary => !self.strict(),
            Privilege::StoredChange => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4 (a dual-stack socket reports IPv4 peers that way).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(bits.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(bits.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Whose digest challenges are answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealmPolicy {
    /// Realms answered besides the account's domain (lower case).
    extra: Vec<String>,
    /// `*` among them: every realm is answered.
    any: bool,
}

impl RealmPolicy {
    pub fn new(realms: &[String]) -> Self {
        RealmPolicy {
            any: realms.iter().any(|r| r.trim() == "*"),
            extra: realms
                .iter()
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| r != "*")
                .collect(),
        }
    }

    /// Whether a challenge of `realm` to a request of the account at `domain` (its host,
    /// with or without a port) is answered; `from_proxy`: the challenge came from the
    /// outbound proxy's address.
    pub fn answers(&self, realm: &str, domain: &str, from_proxy: bool) -> bool {
        if self.any || from_proxy {
            return true;
        }
        let realm = realm.trim().to_ascii_lowercase();
        let host = host_of(domain).to_ascii_lowercase();
        realm == host || self.extra.contains(&realm)
    }
}

/// `host` of `host[:port]` or `[v6][:port]`.
fn host_of(hostport: &str) -> &str {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && !host.contains(':') => host,
        _ => hostport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn with_a_proxy_only_its_addresses_are_trusted() {
        let s = Sources::new(Vec::new(), true);
        s.set_proxy_addresses(vec![ip("127.0.0.1")]);
        assert!(s.trusts(ip("127.0.0.1")));
        assert!(s.trusts(ip("::ffff:127.0.0.1")));
        assert!(!s.trusts(ip("127.0.0.2")), "loopback is not the proxy");
        assert!(s.admits(ip("198.51.100.7"), Privilege::Ordinary));
        assert!(!s.admits(ip("198.51.100.7"), Privilege::StoredChange));
        assert!(!s.admits(ip("127.0.0.2"), Privilege::StoredChange));
        assert!(s.admits(ip("127.0.0.1"), Privilege::StoredChange));
    }

    #[test]
    fn without_a_proxy_loopback_is_trusted() {
        let s = Sources::new(Vec::new(), false);
        assert!(s.trusts(ip("127.0.0.1")) && s.trusts(ip("127.0.0.2")) && s.trusts(ip("::1")));
        assert!(!s.trusts(ip("10.0.0.1")));
        assert!(s.admits(ip("10.0.0.1"), Privilege::Ordinary));
        assert!(!s.admits(ip("10.0.0.1"), Privilege::StoredChange));
    }

    #[test]
    fn configured_networks_are_strict() {
        let s = Sources::new(vec![(ip("10.0.0.0"), 8), (ip("2001:db8::"), 32)], true);
        s.set_proxy_addresses(vec![ip("192.0.2.1")]);
        assert!(s.strict());
        assert!(s.trusts(ip("10.1.2.3")) && s.trusts(ip("2001:db8::5")));
        assert!(s.trusts(ip("192.0.2.1")), "the proxy stays trusted");
        assert!(
            !s.trusts(ip("127.0.0.1")),
            "loopback only when nothing is configured"
        );
        assert!(!s.admits(ip("11.0.0.1"), Privilege::Ordinary));
        let host = Sources::new(vec![(ip("10.0.0.1"), 32)], false);
        assert!(host.trusts(ip("10.0.0.1")) && !host.trusts(ip("10.0.0.2")));
        let all = Sources::new(vec![(ip("0.0.0.0"), 0)], false);
        assert!(all.trusts(ip("203.0.113.9")));
    }

    #[test]
    fn digest_answers_go_to_the_accounts_realm_or_the_proxy() {
        let p = RealmPolicy::new(&[]);
        assert!(p.answers("example.com", "example.com", false));
        assert!(p.answers("Example.COM", "example.com:5060", false));
        assert!(!p.answers("evil.example", "example.com", false));
        assert!(p.answers("evil.example", "example.com", true));
        let p = RealmPolicy::new(&["sip.example.net".into()]);
        assert!(p.answers("SIP.example.net", "example.com", false));
        assert!(RealmPolicy::new(&["*".into()]).answers("x", "example.com", false));
        assert_eq!(host_of("[::1]:5060"), "::1");
        assert_eq!(host_of("::1"), "::1");
    }
}
