//! The SIP user agent: rsipstack's endpoint (transactions, retransmissions, timers) on one UDP
//! socket and one TCP listener bound to the same address, the outbound proxy or RFC 3263
//! resolution, and the incoming requests (OPTIONS, new calls to our bindings, and the requests
//! inside the dialogs of calls: BYE, re-INVITE, MESSAGE; MESSAGEs outside dialogs go to the
//! application).
//!
//! Requests are built as text by the protocol cores ([`super::register`]) and sent here
//! through client transactions; only final responses are handed back.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::Rng;
use rsipstack::sip::{Header, Method, SipMessage, StatusCode};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::{Endpoint, EndpointBuilder, Transaction};
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::addr::{Aor, Host, ProxyUri, Target, Transport};
use super::call::CallRoute;
use super::guard::{GuardRef, SourceGuard, SourceLimits};
use super::register::{contact_token, ResponseInfo};
use super::trust::{Privilege, RealmPolicy, Sources};

/// How the user agent is set up.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// UDP and TCP, same address and port (port 0: any free port).
    pub listen: SocketAddr,
    /// Every request goes there when set; otherwise RFC 3263 on the target's domain.
    pub proxy: Option<ProxyUri>,
    /// The lifetime asked for in REGISTER, in seconds.
    pub register_expires: u32,
    /// User-Agent of our responses, and of REGISTERs whose account has none.
    pub user_agent: String,
    /// How long a call may wait for its final answer: our INVITE is then cancelled, an
    /// incoming one the owner did not answer is declined (480); either way its media ports
    /// are released by the owner on `Ended`.
    pub call_setup_timeout: Duration,
    /// `sip_trusted_peers`: networks trusted for requests outside dialogs (see
    /// [`super::trust`]); empty: the outbound proxy, or loopback without one.
    pub trusted_peers: Vec<(IpAddr, u8)>,
    /// Realms answered besides the account's domain (`*`: all).
    pub auth_realms: Vec<String>,
    /// What one untrusted source may send, and TCP connections.
    pub source_limits: SourceLimits,
    /// The certificate authorities (PEM) a TLS proxy's certificate must chain to.
    pub tls_ca: Option<Vec<u8>>,
}

/// A stream (TCP) connection that receives nothing for this long is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the outbound proxy's name is resolved again (its addresses are trusted).
const PROXY_REFRESH: Duration = Duration::from_secs(300);

/// Why the user agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind UDP {0}: {1}")]
    Udp(SocketAddr, String),
    #[error("cannot bind TCP {0}: {1}")]
    Tcp(SocketAddr, std::io::Error),
    #[error("SIP endpoint: {0}")]
    Endpoint(String),
}

/// A failed DNS lookup (RFC 3263) of a target domain or of the proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// The user agent; cheap to clone.
#[derive(Clone)]
pub struct SipUa {
    pub(crate) inner: Arc<UaInner>,
}

pub(crate) struct UaInner {
    endpoint: Endpoint,
    udp_addr: SocketAddr,
    pub(crate) config: UaConfig,
    resolver: OnceLock<rsipstack::resolver::SipResolver>,
    /// Live bindings by contact token: the account each belongs to.
    pub(crate) contacts: Mutex<HashMap<String, String>>,
    /// Live calls by Call-ID: where requests inside their dialogs go.
    pub(crate) calls: Mutex<HashMap<String, CallRoute>>,
    /// Owners of incoming calls by contact token.
    pub(crate) incoming:
        Mutex<HashMap<String, tokio::sync::mpsc::Sender<super::incoming::IncomingUpdate>>>,
    /// Where INVITEs for no live connection are reported ([`SipUa::route_missed_invites`]).
    pub(crate) missed: Mutex<Option<tokio::sync::mpsc::Sender<super::incoming::MissedInvite>>>,
    /// Conference domains and where INVITEs to their rooms go
    /// ([`SipUa::route_conferences`]).
    pub(crate) conferences: Mutex<
        Option<(
            Vec<String>,
            tokio::sync::mpsc::Sender<super::incoming::IncomingUpdate>,
        )>,
    >,
    /// Where MESSAGEs outside dialogs go ([`SipUa::route_messages`]).
    pub(crate) messages: Mutex<Option<tokio::sync::mpsc::Sender<super::message::IncomingMessage>>>,
    live: AtomicUsize,
    idle: Notify,
    /// Trusted sources ([`super::trust`]).
    pub(crate) sources: Arc<Sources>,
    /// Whose digest challenges are answered.
    pub(crate) realms: RealmPolicy,
    /// Per-source budgets and TCP counts.
    pub(crate) guard: Arc<SourceGuard>,
}

/// Counts a live registration task until dropped.
pub(crate) struct LiveTask(Arc<UaInner>);

impl Drop for LiveTask {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
    }
}

impl SipUa {
    /// Binds the UDP socket and TCP listener (same port) and starts the endpoint.
    pub async fn start(config: UaConfig) -> Result<SipUa, StartError> {
        let (udp, tcp) = bind(config.listen).await?;
        let udp_addr = udp
            .local_addr()
            .map_err(|e| StartError::Udp(config.listen, e.to_string()))?;
        let cancel = rsipstack::platform::CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        transport_layer.set_stream_idle_timeout(TCP_IDLE_TIMEOUT);
        // TLS toward the proxy (`transport=tls`, `sips:`): its certificate must chain to
        // `tls_ca`, and name the proxy's host when the setting gives a name (else its IP).
        transport_layer.set_tls_config(rsipstack::transport::tls::TlsConfig {
            ca_certs: config.tls_ca.clone(),
            sni_hostname: match config.proxy.as_ref().map(|p| &p.host) {
                Some(Host::Name(name)) => Some(name.clone()),
                _ => None,
            },
            ..Default::default()
        });
        let udp = UdpConnection::from_socket(Arc::new(udp), None, Some(cancel.child_token()))
            .await
            .map_err(|e| StartError::Udp(config.listen, e.to_string()))?;
        transport_layer.add_transport(udp.into());
        let sources = Arc::new(Sources::new(
            config.trusted_peers.clone(),
            config.proxy.is_some(),
        ));
        let guard = Arc::new(SourceGuard::new(sources.clone(), config.source_limits));
        if let Ok(local) = tcp.local_addr() {
            let _ = guard.tcp_local.set(local);
        }
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&config.user_agent)
            .with_transport_layer(transport_layer)
            .with_cancel_token(cancel.clone())
            .with_transport_inspector(Box::new(GuardRef(guard.clone())))
            .build();
        let _ = guard.endpoint.set(Arc::downgrade(&endpoint.inner));
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| StartError::Endpoint(e.to_string()))?;
        let config_realms = config.auth_realms.clone();
        let inner = Arc::new(UaInner {
            endpoint,
            udp_addr,
            config,
            resolver: OnceLock::new(),
            contacts: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            incoming: Mutex::new(HashMap::new()),
            conferences: Mutex::new(None),
            messages: Mutex::new(None),
            missed: Mutex::new(None),
            live: AtomicUsize::new(0),
            idle: Notify::new(),
            realms: RealmPolicy::new(&config_realms),
            sources,
            guard,
        });
        {
            let endpoint = inner.endpoint.inner.clone();
            tokio::spawn(async move {
                if let Err(e) = endpoint.serve().await {
                    warn!(error = %e, "sip endpoint stopped");
                }
            });
        }
        tokio::spawn(accept_tcp(tcp, Arc::downgrade(&inner), cancel));
        tokio::spawn(serve_incoming(incoming, Arc::downgrade(&inner)));
        let ua = SipUa { inner };
        ua.refresh_proxy_addresses().await;
        if ua.inner.config.proxy.is_some() {
            let weak = Arc::downgrade(&ua.inner);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PROXY_REFRESH).await;
                    let Some(inner) = weak.upgrade() else { return };
                    SipUa { inner }.refresh_proxy_addresses().await;
                }
            });
        }
        Ok(ua)
    }

    /// Resolves the outbound proxy again: requests from its addresses are trusted.
    async fn refresh_proxy_addresses(&self) {
        let Some(proxy) = self.inner.config.proxy.clone() else {
            return;
        };
        let ips = match &proxy.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => {
                let found = self.lookup(name, proxy.port, proxy.transport).await;
                match found {
                    Ok(targets) => targets.iter().map(|t| t.addr.ip()).collect(),
                    Err(e) => {
                        warn!(proxy = %proxy, error = %e, "cannot resolve the outbound proxy: its requests are not trusted until it resolves");
                        return;
                    }
                }
            }
        };
        debug!(proxy = %proxy, addresses = ?ips, "outbound proxy addresses (trusted)");
        self.inner.sources.set_proxy_addresses(ips);
    }

    /// The trusted SIP sources.
    pub fn sources(&self) -> &Sources {
        &self.inner.sources
    }

    /// Inbound SIP TCP connections open now.
    pub fn tcp_connections(&self) -> usize {
        self.inner.guard.tcp_connections()
    }

    /// The bound address (UDP and TCP), with the real port when 0 was asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.udp_addr
    }

    /// The configured outbound proxy, if any.
    pub fn proxy(&self) -> Option<&ProxyUri> {
        self.inner.config.proxy.as_ref()
    }

    /// Where requests for `aor`'s domain go: the outbound proxy, or RFC 3263 (SRV, then A/AAAA)
    /// on the domain. Among the results sharing the first one's transport, one at random.
    pub async fn resolve(&self, aor: &Aor) -> Result<Target, ResolveError> {
        let (host, port, transport) = match &self.inner.config.proxy {
            Some(p) => (p.host.clone(), p.port, p.transport),
            None => {
                let (host, port) = aor.host_port();
                (host, port, None)
            }
        };
        self.resolve_host(host, port, transport).await
    }

    /// Where an in-dialog request whose next hop is `uri` (the first Route entry, else the
    /// remote target) goes: the outbound proxy when one is set, else that URI's host (an IP,
    /// or RFC 3263 on the name).
    pub async fn resolve_next_hop(&self, uri: &str) -> Result<Target, ResolveError> {
        let (host, port, transport) = match &self.inner.config.proxy {
            Some(p) => (p.host.clone(), p.port, p.transport),
            None => super::addr::uri_hop(uri)
                .ok_or_else(|| ResolveError(format!("cannot route to {uri}")))?,
        };
        self.resolve_host(host, port, transport).await
    }

    /// An IP with its port (5060 by default) and transport (UDP by default) as is; a name by
    /// RFC 3263 (SRV, then A/AAAA).
    async fn resolve_host(
        &self,
        host: Host,
        port: Option<u16>,
        transport: Option<Transport>,
    ) -> Result<Target, ResolveError> {
        let name = match host {
            Host::Ip(ip) => {
                let transport = transport.unwrap_or(Transport::Udp);
                return Ok(Target {
                    addr: SocketAddr::new(ip, port.unwrap_or(transport.default_port())),
                    transport,
                });
            }
            Host::Name(name) => name,
        };
        // RFC 6761: `.invalid` names never resolve; no query leaves the machine for them.
        if name == "invalid" || name.ends_with(".invalid") {
            return Err(ResolveError("no results found".into()));
        }
        let found = self
            .lookup(&name, port, transport)
            .await
            .map_err(ResolveError)?;
        let usable: Vec<Target> = found
            .iter()
            .filter_map(|t| {
                let transport = match t.transport {
                    rsipstack::sip::Transport::Udp => Transport::Udp,
                    rsipstack::sip::Transport::Tcp => Transport::Tcp,
                    rsipstack::sip::Transport::Tls => Transport::Tls,
                    _ => return None,
                };
                Some(Target {
                    addr: t.addr,
                    transport,
                })
            })
            .collect();
        let Some(first) = usable.first() else {
            return Err(ResolveError("no results found".into()));
        };
        let same: Vec<&Target> = usable
            .iter()
            .filter(|t| t.transport == first.transport)
            .collect();
        let pick = *same[rand::rng().random_range(0..same.len())];
        debug!(%name, target = %pick, "resolved SIP target");
        Ok(pick)
    }

    /// RFC 3263 (SRV, then A/AAAA) on `name`: every target found.
    async fn lookup(
        &self,
        name: &str,
        port: Option<u16>,
        transport: Option<Transport>,
    ) -> Result<Vec<rsipstack::resolver::sip_resolver::Target>, String> {
        let resolver = self
            .inner
            .resolver
            .get_or_init(rsipstack::resolver::SipResolver::new);
        resolver
            .lookup(
                &rsipstack::sip::Domain(name.to_string()),
                port.map(rsipstack::sip::Port::from),
                transport.map(to_rsip_transport),
                false,
            )
            .await
    }

    /// Our IP as seen on the way to `target`: the listening IP, or when listening on every
    /// interface, the one the routing table picks (no packet is sent).
    pub fn local_ip_towards(&self, target: SocketAddr) -> IpAddr {
        let ip = self.inner.udp_addr.ip();
        if !ip.is_unspecified() {
            return ip;
        }
        let any: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        std::net::UdpSocket::bind(any)
            .and_then(|s| {
                s.connect(target)?;
                s.local_addr()
            })
            .map(|a| a.ip())
            .unwrap_or(if target.is_ipv4() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            })
    }

    /// Waits (at most `limit`) until every registration task has ended, each after removing
    /// its binding, then stops the endpoint.
    pub async fn shutdown(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let idle = self.inner.idle.notified();
                if self.inner.live.load(Ordering::SeqCst) == 0 {
                    break;
                }
                idle.await;
            }
        })
        .await;
        self.inner.endpoint.shutdown();
    }

    /// The number of live registration tasks (tests and logs).
    pub fn live_registrations(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }
}

impl UaInner {
    pub(crate) fn task_started(self: &Arc<Self>) -> LiveTask {
        self.live.fetch_add(1, Ordering::SeqCst);
        LiveTask(self.clone())
    }

    /// Sends one request (SIP text) to `target` in a client transaction and returns its final
    /// response. A transaction that gets none (Timer B/F) reports `408 Request Timeout`; a
    /// request that cannot be sent, `503 Service Unavailable`.
    pub(crate) async fn transact(&self, text: &str, target: Target) -> ResponseInfo {
        let mut tx = match self.start_client(text, target).await {
            Ok(tx) => tx,
            Err(response) => return response,
        };
        while let Some(message) = tx.receive().await {
            if let SipMessage::Response(response) = message {
                if response.status_code.code() >= 200 {
                    return self.response_info(&response, tx.response_source.as_ref());
                }
            }
        }
        local_response(408, "Request Timeout")
    }

    /// Starts a client transaction for one request (SIP text) toward `target` and sends it;
    /// the caller receives its responses. A request that cannot be built or sent gives the
    /// local final response the caller reports instead (500 / 503).
    pub(crate) async fn start_client(
        &self,
        text: &str,
        target: Target,
    ) -> Result<Transaction, ResponseInfo> {
        let request = match rsipstack::sip::Request::try_from(text) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "built an unparsable SIP request");
                return Err(local_response(500, "Internal Server Error"));
            }
        };
        let key = match TransactionKey::from_request(&request, TransactionRole::Client) {
            Ok(k) => k,
            Err(e) => {
                warn!(error = %e, "no transaction key for a built request");
                return Err(local_response(500, "Internal Server Error"));
            }
        };
        let destination = SipAddr {
            r#type: Some(to_rsip_transport(target.transport)),
            addr: target.addr.into(),
        };
        // A stream (TCP, TLS) is connected first: a refused connection or a certificate the
        // configured authorities do not vouch for fails the request now, where rsipstack
        // would retransmit into it until the transaction times out.
        let connection = if target.transport.is_stream() {
            match self
                .endpoint
                .inner
                .transport_layer
                .lookup(&destination, None)
                .await
            {
                Ok((connection, _)) => Some(connection),
                Err(e) => {
                    warn!(%target, error = %e, "cannot connect to the SIP peer");
                    return Err(local_response(503, "Service Unavailable"));
                }
            }
        } else {
            None
        };
        let mut tx = Transaction::new_client(key, request, self.endpoint.inner.clone(), None);
        tx.destination = Some(destination);
        tx.connection = connection;
        if let Err(e) = tx.send().await {
            warn!(%target, error = %e, "cannot send SIP request");
            return Err(local_response(503, "Service Unavailable"));
        }
        Ok(tx)
    }
}

/// A final response made up locally (no answer came, or nothing could be sent).
pub(crate) fn local_response(code: u16, reason: &str) -> ResponseInfo {
    ResponseInfo {
        code,
        reason: reason.into(),
        ..Default::default()
    }
}

fn to_rsip_transport(t: Transport) -> rsipstack::sip::Transport {
    match t {
        Transport::Udp => rsipstack::sip::Transport::Udp,
        Transport::Tcp => rsipstack::sip::Transport::Tcp,
        Transport::Tls => rsipstack::sip::Transport::Tls,
    }
}

impl UaInner {
    /// The parts of a response the protocol cores read, with only the challenges that may
    /// be answered ([`RealmPolicy`]): the account is the request's From, `source` where the
    /// response came from.
    pub(crate) fn response_info(
        &self,
        response: &rsipstack::sip::Response,
        source: Option<&SipAddr>,
    ) -> ResponseInfo {
        let mut info = response_info(response);
        if info.www_authenticate.is_empty() && info.proxy_authenticate.is_empty() {
            return info;
        }
        let from_proxy = source
            .and_then(|a| a.get_socketaddr().ok())
            .is_some_and(|a| self.sources.is_proxy(a.ip()));
        let from = info
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("From") || n == "f")
            .map(|(_, v)| super::invite::entry_uri(v).to_string())
            .unwrap_or_default();
        let domain = super::addr::uri_host(&from).unwrap_or_default();
        let realms = &self.realms;
        let keep = |value: &String| match super::digest::Challenge::parse(value) {
            Ok(c) if !realms.answers(&c.realm, &domain, from_proxy) => {
                warn!(realm = %c.realm, account_domain = %domain, code = info.code, "digest challenge not answered: not the account's realm, not from the outbound proxy (sip_auth_realms widens this)");
                false
            }
            _ => true,
        };
        let www: Vec<String> = info
            .www_authenticate
            .iter()
            .filter(|v| keep(v))
            .cloned()
            .collect();
        let proxy: Vec<String> = info
            .proxy_authenticate
            .iter()
            .filter(|v| keep(v))
            .cloned()
            .collect();
        info.www_authenticate = www;
        info.proxy_authenticate = proxy;
        info
    }
}

/// The parts of a response the protocol cores read (pure; all its challenges).
pub fn response_info(response: &rsipstack::sip::Response) -> ResponseInfo {
    let mut info = ResponseInfo {
        code: response.status_code.code(),
        // rsipstack keeps the received phrase only when it differs from the standard one.
        reason: response
            .wire_reason
            .clone()
            .unwrap_or_else(|| response.status_code.text().to_string()),
        ..Default::default()
    };
    info.body = response.body.clone();
    for header in response.headers.iter() {
        info.headers
            .push((header.name().to_string(), header.value().to_string()));
        match header {
            Header::WwwAuthenticate(v) => info.www_authenticate.push(v.value().to_string()),
            Header::ProxyAuthenticate(v) => info.proxy_authenticate.push(v.value().to_string()),
            Header::Contact(v) => info.contacts.push(v.value().to_string()),
            Header::Expires(v) => info.expires = v.value().trim().parse().ok(),
            Header::MinExpires(v) => info.min_expires = v.value().trim().parse().ok(),
            _ => {}
        }
    }
    info
}

/// Binds UDP first, then TCP on the same port; with port 0, retries when the TCP port of the
/// UDP socket's number is taken.
async fn bind(
    listen: SocketAddr,
) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), StartError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(|e| StartError::Udp(listen, e.to_string()))?;
        let port = udp
            .local_addr()
            .map_err(|e| StartError::Udp(listen, e.to_string()))?
            .port();
        let tcp_addr = SocketAddr::new(listen.ip(), port);
        match tcp_listener(tcp_addr) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if listen.port() == 0 && attempt < 20 => {
                debug!(%tcp_addr, error = %e, "TCP port taken, trying another");
            }
            Err(e) => return Err(StartError::Tcp(tcp_addr, e)),
        }
    }
}

fn tcp_listener(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// Accepts SIP over TCP and hands each connection to rsipstack's transport layer (which reads
/// it and routes its messages). Our own listener, not rsipstack's, so that a bind failure
/// stops the start instead of being logged and ignored.
async fn accept_tcp(
    listener: tokio::net::TcpListener,
    ua: std::sync::Weak<UaInner>,
    cancel: rsipstack::platform::CancellationToken,
) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    let local = SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tcp),
        addr: local.into(),
    };
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "sip tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(ua) = ua.upgrade() else { return };
        if !ua.guard.admit_tcp(peer.ip()) {
            debug!(%peer, "sip tcp connection refused: too many from this source or in total");
            drop(stream);
            continue;
        }
        match TcpConnection::from_stream(stream, local.clone(), Some(cancel.child_token())) {
            Ok(connection) => {
                debug!(%peer, "sip tcp connection");
                ua.endpoint
                    .inner
                    .transport_layer
                    .add_connection(SipConnection::Tcp(connection));
            }
            Err(e) => {
                ua.guard.tcp_closed(peer.ip());
                warn!(%peer, error = %e, "sip tcp connection failed")
            }
        }
    }
}

/// The socket address a request came from (never what its Via says).
pub(crate) fn request_source(tx: &Transaction) -> Option<SocketAddr> {
    tx.connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(|a| a.get_socketaddr().ok())
}

/// Answers requests that reach us.
///
/// * A new INVITE (no To tag): [`super::incoming::serve_invite`] (the owner of the binding
///   named by the Request-URI's `gw` token, else 404/480).
/// * Inside the dialog of a live call (Call-ID and To tag): BYE gets 200 and ends the call
///   (its task is told), a re-INVITE goes to the call's owner, which answers it, OPTIONS 200,
///   ACK nothing, MESSAGE 200 (to the call), anything else (INFO, UPDATE...) 501 for now.
/// * A request with a To tag for a dialog we do not have (a late BYE): 481.
/// * OPTIONS (a registrar or a peer checking that a contact is alive) gets 200 when it is for
///   a live binding or for no binding in particular, 404 for a binding that is gone.
/// * A MESSAGE outside any dialog: [`super::message::serve_message`] (the application answers).
/// * Other methods: 501.
async fn serve_incoming(
    mut incoming: rsipstack::transaction::TransactionReceiver,
    ua: std::sync::Weak<UaInner>,
) {
    while let Some(mut tx) = incoming.recv().await {
        let Some(ua) = ua.upgrade() else { return };
        let method = tx.original.method;
        let uri = tx.original.uri.to_string();
        let (mut call_id, mut to_tag) = (String::new(), None);
        for header in tx.original.headers.iter() {
            match header {
                Header::CallId(v) => call_id = v.value().trim().to_string(),
                Header::To(v) => {
                    to_tag = super::invite::header_param(v.value(), "tag").map(str::to_string)
                }
                _ => {}
            }
        }
        let source = request_source(&tx);
        if to_tag.is_none()
            && !matches!(method, Method::Options | Method::Ack | Method::Cancel)
            && !source.is_some_and(|s| ua.sources.admits(s.ip(), Privilege::Ordinary))
        {
            // sip_trusted_peers is set and this source is not one of them (or unknown).
            info!(%method, source = ?source, "SIP request from an untrusted source refused (403)");
            tokio::spawn(async move {
                let _ = tx.reply(StatusCode::Forbidden).await;
            });
            continue;
        }
        if method == Method::Invite && to_tag.is_none() {
            tokio::spawn(super::incoming::serve_invite(
                SipUa { inner: ua },
                tx,
                source,
            ));
            continue;
        }
        if method == Method::Message && to_tag.is_none() {
            tokio::spawn(super::message::serve_message(
                SipUa { inner: ua },
                tx,
                source,
            ));
            continue;
        }
        tokio::spawn(async move {
            let call = to_tag.as_deref().and_then(|tag| {
                ua.calls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&call_id)
                    .filter(|c| c.local_tag == tag)
                    .map(|c| c.tx.clone())
            });
            let status = match (method, call) {
                (Method::Ack, _) => return,
                (Method::Bye, Some(call)) => {
                    let answered = tx.reply_with(StatusCode::OK, Vec::new(), None).await;
                    if let Err(e) = answered {
                        info!(error = %e, "cannot answer a BYE");
                    }
                    debug!(%call_id, "BYE received for a call");
                    let _ = call.send(super::call::InDialog::Bye);
                    return;
                }
                (Method::Invite, Some(call)) => {
                    let body = String::from_utf8_lossy(&tx.original.body).into_owned();
                    let reinvite = super::call::Reinvite {
                        sdp: (!body.trim().is_empty()).then_some(body),
                        original: tx.original.clone(),
                        endpoint: tx.endpoint_inner.clone(),
                        respond: tx.tu_sender.clone(),
                        contact: String::new(),
                    };
                    debug!(%call_id, "re-INVITE received for a call");
                    if let Err(tokio::sync::mpsc::error::SendError(
                        super::call::InDialog::Reinvite(r),
                    )) = call.send(super::call::InDialog::Reinvite(Box::new(reinvite)))
                    {
                        r.reject(481);
                    }
                    // Reads the transaction: runs the answer, absorbs the ACK.
                    while tx.receive().await.is_some() {}
                    return;
                }
                (Method::Message, Some(call)) => {
                    let mut from = String::new();
                    let mut content_type = String::new();
                    for header in tx.original.headers.iter() {
                        match header {
                            Header::From(v) => from = v.value().to_string(),
                            Header::ContentType(v) => content_type = v.value().to_string(),
                            _ => {}
                        }
                    }
                    let message = super::call::SipMessageIn {
                        from,
                        content_type,
                        body: String::from_utf8_lossy(&tx.original.body).into_owned(),
                    };
                    debug!(%call_id, "MESSAGE received for a call");
                    if call.is_closed() {
                        StatusCode::CallTransactionDoesNotExist
                    } else {
                        // Answered before the client hears of it: a client that hangs up at
                        // once must not send its BYE ahead of this 200.
                        let headers = vec![Header::Allow(rsipstack::sip::headers::Allow::new(
                            super::invite::ALLOW,
                        ))];
                        if let Err(e) = tx.reply_with(StatusCode::OK, headers, None).await {
                            info!(error = %e, "cannot answer a MESSAGE in a dialog");
                        }
                        let _ = call.send(super::call::InDialog::Message(message));
                        return;
                    }
                }
                (Method::Options, Some(_)) => StatusCode::OK,
                (_, Some(_)) => StatusCode::NotImplemented,
                (Method::Options, None) => match contact_token(&uri) {
                    Some(token)
                        if !ua
                            .contacts
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .contains_key(token) =>
                    {
                        StatusCode::NotFound
                    }
                    _ => StatusCode::OK,
                },
                (_, None) if to_tag.is_some() => StatusCode::CallTransactionDoesNotExist,
                _ => StatusCode::NotImplemented,
            };
            debug!(%method, %uri, status = %status, "incoming sip request");
            let headers = vec![Header::Allow(rsipstack::sip::headers::Allow::new(
                super::invite::ALLOW,
            ))];
            if let Err(e) = tx.reply_with(status, headers, None).await {
                info!(error = %e, "cannot answer an incoming sip request");
            }
        });
    }
}
