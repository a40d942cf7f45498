//! What one SIP source may cost: messages per second from a source that is not trusted, and
//! TCP connections per source and in total. It sits in rsipstack's endpoint loop as its
//! transport inspector, so a refused message is dropped before any transaction, timer or
//! parse of ours exists for it.
//!
//! * A message from an untrusted source over its budget is dropped; a request among them is
//!   answered `503 Service Unavailable` with `Retry-After` at most once a second per source
//!   (the answer must not become the flood). Trusted sources (the outbound proxy, the
//!   configured peers) carry everyone's traffic and are exempt.
//! * Refusals are logged in one line a second, with how many.
//! * Inbound TCP connections are counted from accept to close (rsipstack's `Closed` event).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use rsipstack::sip::{Header, SipMessage, StatusCode};
use rsipstack::transaction::endpoint::{EndpointInner, TransportEventInspector};
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tracing::{info, warn};

use super::trust::Sources;
use crate::rate::KeyedLimiter;

/// Sources whose budgets are tracked at once (see [`KeyedLimiter`]).
const TRACKED_SOURCES: usize = 10_000;

/// The limits on one source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceLimits {
    /// Messages per second from one untrusted source, on average...
    pub messages_per_second: f64,
    /// ...after this burst.
    pub burst: u32,
    /// Inbound TCP connections at once from one untrusted source.
    pub tcp_per_source: usize,
    /// Inbound TCP connections at once, in total.
    pub tcp_total: usize,
}

impl Default for SourceLimits {
    fn default() -> Self {
        SourceLimits {
            messages_per_second: 20.0,
            burst: 50,
            tcp_per_source: 8,
            tcp_total: 1024,
        }
    }
}

#[derive(Default)]
struct Tcp {
    per_source: HashMap<IpAddr, usize>,
    total: usize,
}

/// Refusals since the last log line.
#[derive(Default)]
struct Refusals {
    messages: u64,
    connections: u64,
    logged: Option<Instant>,
}

pub(crate) struct SourceGuard {
    sources: Arc<Sources>,
    limits: SourceLimits,
    messages: Mutex<KeyedLimiter<IpAddr>>,
    /// When each source last got a 503 (at most one a second each).
    answers: Mutex<KeyedLimiter<IpAddr>>,
    tcp: Mutex<Tcp>,
    refusals: Mutex<Refusals>,
    /// The endpoint, to build the 503 (set once it exists).
    pub(crate) endpoint: OnceLock<Weak<EndpointInner>>,
    /// Our TCP listener's address: connections closing there are the counted inbound ones.
    pub(crate) tcp_local: OnceLock<SocketAddr>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters only: a poisoned lock holds nothing half done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SourceGuard {
    pub(crate) fn new(sources: Arc<Sources>, limits: SourceLimits) -> Self {
        SourceGuard {
            sources,
            limits,
            messages: Mutex::new(KeyedLimiter::new(
                limits.messages_per_second,
                limits.burst,
                TRACKED_SOURCES,
            )),
            answers: Mutex::new(KeyedLimiter::new(1.0, 1, TRACKED_SOURCES)),
            tcp: Mutex::default(),
            refusals: Mutex::default(),
            endpoint: OnceLock::new(),
            tcp_local: OnceLock::new(),
        }
    }

    /// Whether one more message from `ip` is taken now.
    fn allow_message(&self, ip: IpAddr, now: Instant) -> bool {
        self.sources.trusts(ip) || lock(&self.messages).allow(&ip, now)
    }

    /// Takes a place for an inbound TCP connection from `ip`, or says no.
    pub(crate) fn admit_tcp(&self, ip: IpAddr) -> bool {
        let trusted = self.sources.trusts(ip);
        let mut tcp = lock(&self.tcp);
        let from_ip = tcp.per_source.get(&ip).copied().unwrap_or(0);
        if tcp.total >= self.limits.tcp_total || (!trusted && from_ip >= self.limits.tcp_per_source)
        {
            drop(tcp);
            self.refused(false);
            return false;
        }
        tcp.total += 1;
        tcp.per_source.insert(ip, from_ip + 1);
        true
    }

    /// An inbound TCP connection from `ip` ended.
    pub(crate) fn tcp_closed(&self, ip: IpAddr) {
        let mut tcp = lock(&self.tcp);
        if let Some(n) = tcp.per_source.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                tcp.per_source.remove(&ip);
            }
            tcp.total = tcp.total.saturating_sub(1);
        }
    }

    /// The inbound TCP connections open now (tests and logs).
    pub(crate) fn tcp_connections(&self) -> usize {
        lock(&self.tcp).total
    }

    fn refused(&self, message: bool) {
        let mut r = lock(&self.refusals);
        if message {
            r.messages += 1;
        } else {
            r.connections += 1;
        }
        let now = Instant::now();
        if r.logged
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            warn!(
                messages = r.messages,
                tcp_connections = r.connections,
                "SIP traffic refused by the per-source limits"
            );
            *r = Refusals {
                logged: Some(now),
                ..Refusals::default()
            };
        }
    }

    /// Answers a refused request 503 (spawned: a TCP write may take its time).
    fn answer_busy(&self, message: &SipMessage, connection: &SipConnection, from: &SipAddr) {
        let Ok(ip) = from.get_socketaddr().map(|a| a.ip()) else {
            return;
        };
        let SipMessage::Request(request) = message else {
            return;
        };
        if request.method == rsipstack::sip::Method::Ack
            || !lock(&self.answers).allow(&ip, Instant::now())
        {
            return;
        }
        let Some(endpoint) = self.endpoint.get().and_then(Weak::upgrade) else {
            return;
        };
        let mut response = endpoint.make_response(request, StatusCode::ServiceUnavailable, None);
        response
            .headers
            .push(Header::Other("Retry-After".into(), "5".into()));
        let connection = connection.clone();
        let to = from.clone();
        tokio::spawn(async move {
            // To the socket address it came from, never where its Via points.
            if let Err(e) = connection
                .send(SipMessage::Response(response), Some(&to))
                .await
            {
                info!(error = %e, "cannot answer 503 to a refused SIP request");
            }
        });
    }
}

fn remote_ip(connection: &SipConnection) -> Option<IpAddr> {
    connection
        .get_remote_addr()
        .and_then(|a| a.get_socketaddr().ok())
        .map(|a| a.ip())
}

#[async_trait::async_trait]
impl TransportEventInspector for GuardRef {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        let guard = &self.0;
        match &event {
            TransportEvent::Incoming(message, connection, source) => {
                count(message);
                let Ok(from) = source.get_socketaddr() else {
                    return Some(event);
                };
                if !guard.allow_message(from.ip(), Instant::now()) {
                    metrics::counter!("sylk_limit_refusals_total", "limit" => "sip_source_rate")
                        .increment(1);
                    guard.refused(true);
                    guard.answer_busy(message, connection, source);
                    return None;
                }
            }
            TransportEvent::Closed(connection) if connection.is_reliable() => {
                let local = connection.get_addr().get_socketaddr().ok();
                if local.is_some() && local == guard.tcp_local.get().copied() {
                    if let Some(ip) = remote_ip(connection) {
                        guard.tcp_closed(ip);
                    }
                }
            }
            _ => {}
        }
        Some(event)
    }
}

/// Counts a SIP message received: requests by method, responses by status code and the
/// method of their CSeq (both from fixed sets: rsip knows a closed list of methods, and
/// codes are 100-699).
fn count(message: &SipMessage) {
    use rsipstack::sip::prelude::HeadersExt;
    match message {
        SipMessage::Request(r) => {
            let method = method_name(&r.method);
            metrics::counter!("sylk_sip_requests_received_total", "method" => method).increment(1);
        }
        SipMessage::Response(r) => {
            let code = r.status_code.code();
            let code = if (100..=699).contains(&code) {
                code.to_string()
            } else {
                "other".into()
            };
            let method = r
                .cseq_header()
                .ok()
                .and_then(|c| c.method().ok())
                .map_or("other", |m| method_name(&m));
            metrics::counter!("sylk_sip_responses_received_total", "method" => method, "code" => code)
                .increment(1);
        }
    }
}

fn method_name(method: &rsipstack::sip::Method) -> &'static str {
    use rsipstack::sip::Method;
    match method {
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Info => "INFO",
        Method::Invite => "INVITE",
        Method::Message => "MESSAGE",
        Method::Notify => "NOTIFY",
        Method::Options => "OPTIONS",
        Method::PRack => "PRACK",
        Method::Publish => "PUBLISH",
        Method::Refer => "REFER",
        Method::Register => "REGISTER",
        Method::Subscribe => "SUBSCRIBE",
        Method::Update => "UPDATE",
    }
}

/// The inspector handed to rsipstack (it wants a box; the user agent keeps the guard too).
pub(crate) struct GuardRef(pub(crate) Arc<SourceGuard>);

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(configured: Vec<(IpAddr, u8)>) -> SourceGuard {
        SourceGuard::new(
            Arc::new(Sources::new(configured, false)),
            SourceLimits {
                messages_per_second: 1.0,
                burst: 2,
                tcp_per_source: 2,
                tcp_total: 3,
            },
        )
    }

    #[test]
    fn untrusted_sources_have_a_budget_trusted_ones_do_not() {
        let g = guard(vec![("192.0.2.1".parse().unwrap(), 32)]);
        let now = Instant::now();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(g.allow_message(stranger, now) && g.allow_message(stranger, now));
        assert!(!g.allow_message(stranger, now));
        assert!(g.allow_message(stranger, now + Duration::from_secs(1)));
        let proxy: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..100).all(|_| g.allow_message(proxy, now)));
    }

    #[test]
    fn tcp_connections_are_counted_per_source_and_in_total() {
        let g = guard(vec![("192.0.2.1".parse().unwrap(), 32)]);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        assert!(g.admit_tcp(a) && g.admit_tcp(a));
        assert!(!g.admit_tcp(a), "per source");
        assert!(g.admit_tcp(b));
        assert!(
            !g.admit_tcp("192.0.2.1".parse().unwrap()),
            "in total, even trusted"
        );
        g.tcp_closed(a);
        assert_eq!(g.tcp_connections(), 2);
        assert!(g.admit_tcp(a));
        // A close of a connection never counted changes nothing.
        g.tcp_closed("203.0.113.5".parse().unwrap());
        assert_eq!(g.tcp_connections(), 3);
    }
}
