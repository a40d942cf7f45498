//! The HTTP(S) server: the WebSocket endpoint `/webrtcgateway/ws`, the web app at
//! `/webrtcgateway/`, conference file sharing ([`crate::filesharing`]), and the listener (TLS
//! with the configured or generated certificate, or plain with `--no-tls`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::access::{Directory, Refused};
use crate::config::Config;
use crate::rooms::Rooms;

/// The sylkRTC WebSocket subprotocol, the only one accepted.
pub const SUBPROTOCOL: &str = "sylkRTC-2";

/// State shared by every connection.
pub struct App {
    pub config: Config,
    pub engine: media::EngineHandle,
    /// The SIP user agent (registrations).
    pub sip: signaling::sip::SipUa,
    rooms: Mutex<Rooms>,
    /// Conference file sharing (§5.1).
    pub files: crate::filesharing::Store,
    /// Phones in rooms: dial-outs and hang-ups for their task ([`crate::phones`]).
    pub phones: crate::phones::Phones,
    /// 1:1 uploads in progress, by transfer id (so that they can be cancelled).
    pub transfers: crate::filetransfer::Uploads,
    /// Uploads in progress and the disk quota of stored files.
    pub uploads: crate::uploads::UploadLimits,
    /// The message store (SQLite at `<data_dir>/storage.sqlite`).
    pub store: Arc<crate::storage::Store>,
    /// `https://HOST:PORT` of this server as SIP devices reach it (history API URLs).
    pub base_url: String,
    /// Live connections, their accounts and who may do what ([`crate::access`]).
    pub access: Arc<Directory>,
    /// Set when this gateway is a node of a cluster ([`crate::cluster`]).
    pub cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
    connection_ids: AtomicU64,
    /// Live 1:1 calls, by state (each held by a [`LiveCall`]).
    calls_live: Arc<CallCounts>,
    /// Set on SIGTERM: new connections, calls and room joins are refused while the live ones
    /// finish (`shutdown_grace`).
    draining: watch::Sender<bool>,
    shutdown: watch::Sender<bool>,
    live: AtomicUsize,
    ended: tokio::sync::Notify,
}

/// Held by a live call: counts it among the gateway's calls until dropped.
pub struct LiveCall {
    counts: Arc<CallCounts>,
    state: usize,
}

/// Live calls in each state (indexes of [`crate::calls::STATES`]).
#[derive(Default)]
pub struct CallCounts([AtomicUsize; crate::calls::STATES.len()]);

impl LiveCall {
    /// The call is in state `state` now (an index of [`crate::calls::STATES`]).
    pub fn set(&mut self, state: usize) {
        if state != self.state && state < self.counts.0.len() {
            self.counts.0[self.state].fetch_sub(1, Ordering::SeqCst);
            self.counts.0[state].fetch_add(1, Ordering::SeqCst);
            self.state = state;
        }
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        self.counts.0[self.state].fetch_sub(1, Ordering::SeqCst);
    }
}

/// Held by a WebSocket task while it runs.
pub struct LiveConnection(Arc<App>);

impl Drop for LiveConnection {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.ended.notify_waiters();
    }
}

impl App {
    pub fn new(
        config: Config,
        engine: media::EngineHandle,
        sip: signaling::sip::SipUa,
        store: Arc<crate::storage::Store>,
        base_url: String,
    ) -> Arc<App> {
        let limits = &config.limits;
        let access = Arc::new(Directory::new(
            limits.max_connections,
            limits.max_connections_per_ip,
            limits.max_accounts_per_connection,
        ));
        let uploads = crate::uploads::UploadLimits::new(limits);
        Arc::new(App {
            config,
            engine,
            sip,
            store,
            base_url,
            rooms: Mutex::new(Rooms::default()),
            files: Default::default(),
            phones: Default::default(),
            transfers: Default::default(),
            uploads,
            access,
            cluster: std::sync::OnceLock::new(),
            connection_ids: AtomicU64::new(1),
            calls_live: Default::default(),
            draining: watch::channel(false).0,
            shutdown: watch::channel(false).0,
            live: Default::default(),
            ended: tokio::sync::Notify::new(),
        })
    }

    /// The rooms (held briefly, never across an await).
    pub fn rooms(&self) -> MutexGuard<'_, Rooms> {
        // A panic while holding the lock cannot leave Rooms half-updated in a way later
        // callers could not handle, so a poisoned lock is used as is.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn next_connection_id(&self) -> u64 {
        self.connection_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Changes once, when the server is asked to stop.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// A new call: counted until the guard is dropped.
    /// A new call in state `state` (an index of [`crate::calls::STATES`]): counted until
    /// the guard is dropped.
    pub fn call_started(&self, state: usize) -> LiveCall {
        let state = state.min(self.calls_live.0.len() - 1);
        self.calls_live.0[state].fetch_add(1, Ordering::SeqCst);
        LiveCall {
            counts: self.calls_live.clone(),
            state,
        }
    }

    pub fn live_calls(&self) -> usize {
        self.calls_by_state().iter().sum()
    }

    /// Live calls per state, in the order of [`crate::calls::STATES`].
    pub fn calls_by_state(&self) -> [usize; crate::calls::STATES.len()] {
        std::array::from_fn(|i| self.calls_live.0[i].load(Ordering::SeqCst))
    }

    /// True once SIGTERM came: nothing new is taken.
    pub fn draining(&self) -> bool {
        *self.draining.borrow()
    }

    pub fn begin_drain(&self) {
        self.draining.send_replace(true);
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Counts a live WebSocket task until the guard is dropped.
    pub fn connection_started(self: &Arc<Self>) -> LiveConnection {
        self.live.fetch_add(1, Ordering::SeqCst);
        LiveConnection(self.clone())
    }

    /// Waits until every WebSocket task has ended (they close their sockets on shutdown).
    pub async fn connections_ended(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            while self.live.load(Ordering::SeqCst) > 0 {
                let ended = self.ended.notified();
                if self.live.load(Ordering::SeqCst) == 0 {
                    break;
                }
                ended.await;
            }
        })
        .await;
    }
}

pub fn router(app: Arc<App>) -> Router {
    let server = HeaderValue::from_static(concat!("sylk-gateway/", env!("CARGO_PKG_VERSION")));
    Router::new()
        .route("/", get(|| async { "Welcome to SylkServer!" }))
        .route(
            "/webrtcgateway",
            get(|| async { Redirect::permanent("/webrtcgateway/") }),
        )
        .route("/webrtcgateway/", get(index))
        // Meeting links: the app, which joins the room the path names after sign-in.
        .route("/webrtcgateway/conference/{room}", get(index))
        // The client library, importable from pages of any origin (CORS), with its
        // package metadata and types.
        .route(
            "/webrtcgateway/sylkrtc.js",
            get(|| shared_asset(JS, include_str!("web/sylkrtc.js"))),
        )
        .route(
            "/webrtcgateway/sylkrtc.d.ts",
            get(|| {
                shared_asset(
                    "application/typescript; charset=utf-8",
                    include_str!("web/sylkrtc.d.ts"),
                )
            }),
        )
        .route(
            "/webrtcgateway/package.json",
            get(|| shared_asset("application/json", include_str!("web/package.json"))),
        )
        .route(
            "/webrtcgateway/icon.svg",
            get(|| asset("image/svg+xml", include_str!("web/icon.svg"))),
        )
        .route(
            "/webrtcgateway/manifest.webmanifest",
            get(|| {
                asset(
                    "application/manifest+json",
                    include_str!("web/manifest.webmanifest"),
                )
            }),
        )
        .route(
            "/webrtcgateway/app.js",
            get(|| asset(JS, include_str!("web/app.js"))),
        )
        .route(
            "/webrtcgateway/contacts.js",
            get(|| asset(JS, include_str!("web/contacts.js"))),
        )
        .route(
            "/webrtcgateway/strings.js",
            get(|| asset(JS, include_str!("web/strings.js"))),
        )
        .route(
            "/webrtcgateway/history.js",
            get(|| asset(JS, include_str!("web/history.js"))),
        )
        .route(
            "/webrtcgateway/style.css",
            get(|| asset("text/css; charset=utf-8", include_str!("web/style.css"))),
        )
        .route("/webrtcgateway/config.json", get(web_config))
        .route("/webrtcgateway/ws", get(websocket))
        .merge(crate::filesharing::router())
        .merge(crate::messaging::router())
        .merge(crate::filetransfer::router())
        .merge(crate::health::router())
        .layer(axum::middleware::map_request(canonical_peer))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::SERVER,
            server,
        ))
        .with_state(app)
}

async fn index() -> Html<&'static str> {
    Html(include_str!("web/index.html"))
}

const JS: &str = "text/javascript; charset=utf-8";

/// One of the web app's files, embedded in the binary.
async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A file of the client library, which pages of any origin may load: a module script from
/// another origin needs `Access-Control-Allow-Origin`. The library holds no secret; what it
/// does on the WebSocket is checked there (`web_origins`).
async fn shared_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// The web app's branding: the `web_config` file when set, else the built-in one; with
/// `iceServers` from `ice_servers` when that is set (TURN credentials made now, so the
/// answer is never cached).
async fn web_config(State(app): State<Arc<App>>) -> Response {
    let text = match &app.config.web_config {
        Some(path) => match tokio::fs::read(path).await {
            Ok(body) => body,
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot read web_config");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot read the web configuration",
                )
                    .into_response();
            }
        },
        None => include_str!("web/config.json").as_bytes().to_vec(),
    };
    let body = match with_ice_servers(&text, &app.config.ice_servers) {
        Some(body) => body,
        None if app.config.ice_servers.is_empty() => text,
        None => {
            warn!("web_config is not a JSON object: iceServers not added");
            text
        }
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The branding JSON with `iceServers` set from `servers` (none: unchanged).
fn with_ice_servers(text: &[u8], servers: &[crate::config::IceServer]) -> Option<Vec<u8>> {
    if servers.is_empty() {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(text).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let list: Vec<serde_json::Value> = servers.iter().map(|s| s.to_browser(now)).collect();
    value
        .as_object_mut()?
        .insert("iceServers".into(), list.into());
    serde_json::to_vec(&value).ok()
}

/// A response whose HTTP/1 status line carries `reason` instead of the standard phrase.
fn refuse(status: StatusCode, reason: &'static str) -> Response {
    let mut response = (status, reason).into_response();
    response
        .extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    response
}

async fn websocket(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    if !app.config.origin_allowed(origin.as_deref()) {
        warn!(%peer, origin = origin.as_deref().unwrap_or("-"), "websocket refused: origin not allowed");
        return refuse(StatusCode::FORBIDDEN, "Origin not allowed");
    }
    if app.draining() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, SHUTTING_DOWN);
    }
    let upgrade = upgrade.protocols([SUBPROTOCOL]);
    if upgrade.selected_protocol().is_none() {
        info!(%peer, "websocket refused: no sylkRTC-2 subprotocol");
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            "No compatible protocol specified",
        );
    }
    let admitted = match app.access.admit(peer.ip()) {
        Ok(a) => a,
        Err(e) => {
            warn!(%peer, reason = %e, "websocket refused");
            crate::metrics::refused("websocket_connections");
            return match e {
                Refused::PerIp(_) => refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many connections from this address",
                ),
                _ => refuse(StatusCode::SERVICE_UNAVAILABLE, "Too many connections"),
            };
        }
    };
    let limit = app.config.max_frame_size;
    upgrade
        .max_frame_size(limit)
        .max_message_size(limit)
        .on_upgrade(move |socket| crate::ws::run(socket, app, peer, origin, admitted))
}

/// Binds the listener, then serves until SIGINT/SIGTERM. Logs `listening on ADDR` once bound
/// (tests read the port from that line when started with port 0).
pub async fn serve(config: Config, hooks: Hooks) -> anyhow::Result<()> {
    let listener = bind_tcp(config.listen)
        .with_context(|| format!("listen: cannot bind {}", config.listen))?;
    let local = listener.local_addr()?;
    let tls = if config.no_tls {
        None
    } else {
        let paths = crate::tls::certificate(&config)?;
        if paths.generated {
            info!(certificate = %paths.certificate.display(), "generated a self-signed certificate");
        }
        let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(
            &paths.certificate,
            &paths.private_key,
        )
        .await
        .with_context(|| {
            format!(
                "cannot load the certificate {} / key {}",
                paths.certificate.display(),
                paths.private_key.display()
            )
        })?;
        Some((rustls, paths))
    };
    let media_bind = SocketAddr::new(config.media_bind_ip(), config.media_port);
    let engine = media::engine::start(media::EngineConfig {
        bind: media_bind,
        advertise: config.advertised_ips(),
        consent_timeout: Duration::from_secs_f64(config.ice_consent_timeout),
        srtp: media::SrtpPolicy::Default,
        rtp_ports: config.rtp_ports(),
        rtx: media::RtxLimits {
            per_datagram: config.limits.max_rtx_per_nack,
            per_second: config.limits.rtx_per_second,
        },
        shards: config.media_shards,
        send_batch: config.media_send_batch,
        tcp_port: config.ice_tcp_first_port(
            media::engine::shard_count(config.media_shards),
            local.port(),
        ),
        panic_payload: config.debug_panic_bytes(),
        opus: media::mix::codec::OpusSettings {
            complexity: config.mixer_opus_complexity,
            ..Default::default()
        },
    })
    .await
    .with_context(|| {
        format!(
            "media_port / ice_tcp_port: cannot bind UDP {media_bind} or the ICE-TCP listener \
             (and one port per further shard)"
        )
    })?;
    let media_addrs = engine.local_addrs();
    let tcp_addrs = engine.tcp_addrs();
    if !tcp_addrs.is_empty() {
        info!(
            "ice-tcp on tcp {} ({} port{}: {:?})",
            tcp_addrs[0],
            tcp_addrs.len(),
            if tcp_addrs.len() == 1 { "" } else { "s" },
            tcp_addrs.iter().map(|a| a.port()).collect::<Vec<_>>()
        );
    }
    info!(
        "media on udp {} (advertised as {:?}; {} shard{}: {:?})",
        engine.local_addr(),
        config.advertised_ips(),
        media_addrs.len(),
        if media_addrs.len() == 1 { "" } else { "s" },
        media_addrs.iter().map(|a| a.port()).collect::<Vec<_>>()
    );
    let tls_ca = config.sip_tls_ca();
    let sip = signaling::sip::SipUa::start(signaling::sip::UaConfig {
        listen: config.sip_listen,
        proxy: config.sip_proxy(),
        register_expires: config.sip_register_expires,
        user_agent: concat!("sylk-gateway/", env!("CARGO_PKG_VERSION")).into(),
        call_setup_timeout: config.limits.call_setup_timeout(),
        trusted_peers: config.sip_trusted_peers(),
        auth_realms: config.sip_auth_realms.clone(),
        source_limits: signaling::sip::SourceLimits {
            messages_per_second: config.limits.sip_requests_per_second,
            burst: config.limits.sip_requests_burst,
            tcp_per_source: config.limits.sip_tcp_connections_per_source,
            tcp_total: config.limits.sip_tcp_connections,
        },
        tls_ca,
    })
    .await
    .with_context(|| format!("sip_listen: cannot listen on {}", config.sip_listen))?;
    match sip.proxy() {
        Some(proxy) => info!(
            "sip on udp {} and tcp (outbound proxy {proxy}{})",
            sip.local_addr(),
            match proxy.transport {
                Some(signaling::sip::Transport::Tls) => ", over TLS",
                _ => "",
            }
        ),
        None => info!(
            "sip on udp {} and tcp (no outbound proxy: RFC 3263 lookup of each domain)",
            sip.local_addr()
        ),
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
    let store = open_store(&config).await?;
    let base_url = config.public_url().unwrap_or_else(|| {
        format!(
            "{}://{}",
            if tls.is_some() { "https" } else { "http" },
            public_host(local, &config)
        )
    });
    let (messages_tx, messages_rx) = tokio::sync::mpsc::channel(crate::messaging::QUEUE);
    sip.route_messages(messages_tx);
    let (missed_tx, missed_rx) = tokio::sync::mpsc::channel(crate::messaging::QUEUE);
    sip.route_missed_invites(missed_tx);
    let (dialin_tx, dialin_rx) = tokio::sync::mpsc::channel(crate::phones::QUEUE);
    if !config.conference_domains.is_empty() {
        info!(domains = ?config.conference_domains, "phones may call rooms of these domains");
        sip.route_conferences(config.conference_domains.clone(), dialin_tx);
    }
    let app = App::new(config, engine, sip, Arc::new(store), base_url);
    if let Some(url) = app.config.cluster.redis_url.clone() {
        crate::relay::join(&app, &url, local).await?;
    }
    tokio::spawn(crate::phones::serve(app.clone(), dialin_rx));
    tokio::spawn(crate::messaging::serve_sip_messages(
        app.clone(),
        messages_rx,
    ));
    tokio::spawn(crate::filetransfer::housekeeping(app.clone()));
    tokio::spawn(crate::push::serve_missed_calls(app.clone(), missed_rx));
    let make = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(
        "listening on {local} ({scheme}; websocket at {}://{local}/webrtcgateway/ws)",
        if tls.is_some() { "wss" } else { "ws" }
    );

    let metrics = crate::metrics::install().unwrap_or_else(|e| {
        // Only when a recorder is installed already (a second server in one process).
        warn!(error = %e, "metrics recorder not installed: /metrics stays empty");
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle()
    });
    let token = crate::admin::token(&app.config)?;
    let admin_addr = crate::admin::serve(
        crate::admin::Admin::new(app.clone(), metrics, token),
        app.config.admin_listen,
    )
    .await?;
    info!("admin API and /metrics on http://{admin_addr}");

    let handle = axum_server::Handle::new();
    let rustls = tls.as_ref().map(|(r, _)| r.clone());
    let lifecycle = tokio::spawn(lifecycle(app.clone(), handle.clone(), rustls, hooks));
    // A client that does not finish its request headers in time is closed (hyper enforces
    // the deadline only with a timer).
    let header_timeout = app.config.limits.http_header_timeout();
    // TCP_NODELAY on every connection: an event written right after its request's ack (the
    // offer of `feed-attached`, `accepted`) otherwise waits for the client's delayed ACK of
    // the ack's segment (Nagle), 40 ms on Linux, and every join waited for it.
    let nodelay = axum_server::accept::NoDelayAcceptor::new();
    match tls {
        Some((rustls, _)) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(rustls).acceptor(nodelay);
            let mut server = axum_server::from_tcp(listener).acceptor(acceptor);
            header_deadline(server.http_builder(), header_timeout);
            server.handle(handle).serve(make).await?
        }
        None => {
            let mut server = axum_server::from_tcp(listener).acceptor(nodelay);
            header_deadline(server.http_builder(), header_timeout);
            server.handle(handle).serve(make).await?
        }
    }
    lifecycle.abort();
    // Upgraded connections outlive the HTTP server: let them send their close frames (and
    // their workers hang up calls, leave rooms, drop registrations).
    app.connections_ended(Duration::from_secs(3)).await;
    // Its records in the cluster go now (its rooms may start elsewhere at once).
    if let Some(cluster) = app.cluster.get() {
        cluster.leave().await;
    }
    // The rooms end: their phones are hung up (BYE), while the user agent still runs.
    app.phones.hang_up_all();
    // Their registrations are being removed (REGISTER Expires: 0): give that a moment.
    app.sip.shutdown(Duration::from_secs(3)).await;
    info!("stopped");
    Ok(())
}

/// A client's address as the limits and logs know it: IPv4 on a dual-stack listener is
/// `::ffff:a.b.c.d`, turned back into `a.b.c.d`.
async fn canonical_peer(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(ConnectInfo(peer)) = request
        .extensions_mut()
        .get_mut::<ConnectInfo<SocketAddr>>()
    {
        *peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    }
    request
}

/// Binds a TCP listener (non-blocking). The IPv6 wildcard binds dual-stack, and falls back
/// to the IPv4 wildcard where the host has no IPv6.
pub fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    match media::engine::tcp::bind(addr) {
        Err(e) if media::engine::udp::no_ipv6(addr, &e) => {
            warn!(error = %e, "no IPv6 here: listening on IPv4 only");
            let v4 = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), addr.port());
            media::engine::tcp::bind(v4)
        }
        other => other,
    }
}

/// A client must send its request headers within `limit`.
fn header_deadline(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    limit: Duration,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limit);
}

/// `HOST:PORT` of the web server for URLs given to SIP devices: the listening address, or when
/// it listens on every interface, the first advertised media address.
fn public_host(local: SocketAddr, config: &Config) -> String {
    let ip = if local.ip().is_unspecified() {
        config
            .advertised_ips()
            .first()
            .copied()
            .unwrap_or(local.ip())
    } else {
        local.ip()
    };
    SocketAddr::new(ip, local.port()).to_string()
}

/// Sets the log filter from a configuration (the subscriber's reload handle).
pub type LogFilterSetter = Box<dyn Fn(&Config) -> Result<(), String> + Send + Sync>;

/// What the process around the server provides: re-reading the configuration and setting
/// the log filter (SIGHUP).
pub struct Hooks {
    pub reload_config: Box<dyn Fn() -> anyhow::Result<Config> + Send + Sync>,
    pub set_log_filter: LogFilterSetter,
}

/// The text of requests refused while draining.
pub const SHUTTING_DOWN: &str = "Server shutting down";

/// Signals: SIGHUP reloads (certificate, log filter; branding is read per request);
/// SIGTERM drains (nothing new is taken; live calls and rooms get `shutdown_grace`), then
/// stops; SIGINT (Ctrl-C), or a second SIGTERM while draining, stops at once.
async fn lifecycle(
    app: Arc<App>,
    handle: axum_server::Handle,
    rustls: Option<axum_server::tls_rustls::RustlsConfig>,
    hooks: Hooks,
) {
    let mut signals = Signals::new();
    loop {
        match signals.next().await {
            Signal::Reload => reload(&hooks, rustls.as_ref()).await,
            Signal::Terminate => {
                let drained = drain(&app);
                tokio::pin!(drained);
                loop {
                    tokio::select! {
                        _ = &mut drained => break,
                        signal = signals.next() => match signal {
                            Signal::Reload => reload(&hooks, rustls.as_ref()).await,
                            Signal::Terminate | Signal::Interrupt => {
                                info!("second signal while draining: stopping now");
                                break;
                            }
                        },
                    }
                }
                break;
            }
            Signal::Interrupt => break,
        }
    }
    info!("shutting down");
    app.begin_shutdown();
    handle.graceful_shutdown(Some(Duration::from_secs(3)));
}

async fn reload(hooks: &Hooks, rustls: Option<&axum_server::tls_rustls::RustlsConfig>) {
    info!("SIGHUP: reloading");
    let config = match (hooks.reload_config)() {
        Ok(c) => c,
        Err(e) => {
            error!("SIGHUP: configuration error, nothing reloaded: {e:#}");
            return;
        }
    };
    match (hooks.set_log_filter)(&config) {
        Ok(()) => info!(log_level = %config.log_level, "log filter reloaded"),
        Err(e) => error!("SIGHUP: log filter not reloaded: {e}"),
    }
    if let Some(rustls) = rustls {
        let loaded = match crate::tls::certificate(&config) {
            Ok(paths) => rustls
                .reload_from_pem_file(&paths.certificate, &paths.private_key)
                .await
                .map(|()| paths.certificate)
                .map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        match loaded {
            Ok(path) => info!(certificate = %path.display(), "certificate reloaded"),
            Err(e) => error!("SIGHUP: certificate not reloaded (the old one stays): {e:#}"),
        }
    }
}

/// Waits until no call and no room is left, or `shutdown_grace` has passed.
async fn drain(app: &App) {
    app.begin_drain();
    let grace = Duration::from_secs_f64(app.config.shutdown_grace);
    let deadline = tokio::time::Instant::now() + grace;
    let busy = || (app.live_calls(), app.rooms().len());
    let (calls, rooms) = busy();
    info!(
        calls,
        rooms,
        grace_s = grace.as_secs_f64(),
        "SIGTERM: draining (not ready; new connections, calls and joins refused)"
    );
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        let (calls, rooms) = busy();
        if calls == 0 && rooms == 0 {
            info!("drained: no call or room left");
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            info!(calls, rooms, "grace period over: ending what is left");
            return;
        }
        tick.tick().await;
    }
}

enum Signal {
    Reload,
    Terminate,
    Interrupt,
}

/// The signal streams, made once (a signal that comes while another is handled waits in its
/// stream instead of being lost).
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(term), Ok(hup)) => Some((term, hup)),
                _ => {
                    warn!("cannot listen for SIGTERM/SIGHUP: only Ctrl-C stops the server");
                    None
                }
            };
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        if let Some((term, hup)) = &mut self.streams {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
                _ = hup.recv() => Signal::Reload,
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}

/// The message store the settings name: PostgreSQL when `storage_url` is set, else the
/// embedded SQLite file in `data_dir`.
async fn open_store(config: &Config) -> anyhow::Result<crate::storage::Store> {
    match config.storage_url.clone() {
        Some(url) => {
            let shown = crate::config::redact_url(&url);
            // The PostgreSQL client blocks (as SQLite does): never on the async runtime.
            let store = tokio::task::spawn_blocking(move || {
                crate::storage::Store::connect(&url, STORE_CONNECTIONS)
            })
            .await
            .context("storage task")?
            .with_context(|| format!("cannot open the message store {shown}"))?;
            info!(url = %shown, "message store open (postgres)");
            Ok(store)
        }
        None => {
            let path = config.data_dir.join("storage.sqlite");
            let store = crate::storage::Store::open(&path)
                .with_context(|| format!("cannot open the message store {}", path.display()))?;
            info!(path = %path.display(), "message store open");
            Ok(store)
        }
    }
}

/// PostgreSQL connections kept open by one gateway.
const STORE_CONNECTIONS: usize = 8;
