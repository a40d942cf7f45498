//! The HTTP(S) server: the WebSocket endpoint `/webrtcgateway/ws`, the web app at
//! `/webrtcgateway/`, conference file sharing ([`crate::filesharing`]), and the listener (TLS
//! with the configured or generated certificate, or plain with `--no-tls`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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
use tracing::{info, warn};

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
    connection_ids: AtomicU64,
    shutdown: watch::Sender<bool>,
    live: std::sync::atomic::AtomicUsize,
    ended: tokio::sync::Notify,
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
            transfers: Default::default(),
            uploads,
            access,
            connection_ids: AtomicU64::new(1),
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
        .route(
            "/webrtcgateway/sylkrtc.js",
            get(|| asset(JS, include_str!("web/sylkrtc.js"))),
        )
        .route(
            "/webrtcgateway/app.js",
            get(|| asset(JS, include_str!("web/app.js"))),
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

/// The web app's branding: the `web_config` file when set, else the built-in one.
async fn web_config(State(app): State<Arc<App>>) -> Response {
    let json = header::HeaderValue::from_static("application/json");
    match &app.config.web_config {
        Some(path) => match tokio::fs::read(path).await {
            Ok(body) => ([(header::CONTENT_TYPE, json)], body).into_response(),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot read web_config");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot read the web configuration",
                )
                    .into_response()
            }
        },
        None => (
            [(header::CONTENT_TYPE, json)],
            include_str!("web/config.json"),
        )
            .into_response(),
    }
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
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("listen: cannot bind {}", config.listen))?;
    listener.set_nonblocking(true)?;
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
    let media_bind = SocketAddr::new(local.ip(), config.media_port);
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
        panic_payload: config.debug_panic_bytes(),
    })
    .await
    .with_context(|| {
        format!("media_port: cannot bind UDP {media_bind} (and one port per further shard)")
    })?;
    let media_addrs = engine.local_addrs();
    info!(
        "media on udp {} (advertised as {:?}; {} shard{}: {:?})",
        engine.local_addr(),
        config.advertised_ips(),
        media_addrs.len(),
        if media_addrs.len() == 1 { "" } else { "s" },
        media_addrs.iter().map(|a| a.port()).collect::<Vec<_>>()
    );
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
    })
    .await
    .with_context(|| format!("sip_listen: cannot listen on {}", config.sip_listen))?;
    match sip.proxy() {
        Some(proxy) => info!(
            "sip on udp {} and tcp (outbound proxy {proxy})",
            sip.local_addr()
        ),
        None => info!(
            "sip on udp {} and tcp (no outbound proxy: RFC 3263 lookup of each domain)",
            sip.local_addr()
        ),
    }
    let store_path = config.data_dir.join("storage.sqlite");
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
    let store = crate::storage::Store::open(&store_path)
        .with_context(|| format!("cannot open the message store {}", store_path.display()))?;
    info!(path = %store_path.display(), "message store open");
    let base_url = format!(
        "{}://{}",
        if tls.is_some() { "https" } else { "http" },
        public_host(local, &config)
    );
    let (messages_tx, messages_rx) = tokio::sync::mpsc::channel(crate::messaging::QUEUE);
    sip.route_messages(messages_tx);
    let (missed_tx, missed_rx) = tokio::sync::mpsc::channel(crate::messaging::QUEUE);
    sip.route_missed_invites(missed_tx);
    let app = App::new(config, engine, sip, Arc::new(store), base_url);
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

    let handle = axum_server::Handle::new();
    let stopper = {
        let handle = handle.clone();
        let app = app.clone();
        tokio::spawn(async move {
            shutdown_requested().await;
            info!("shutting down");
            app.begin_shutdown();
            handle.graceful_shutdown(Some(Duration::from_secs(3)));
        })
    };
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
    stopper.abort();
    // Upgraded connections outlive the HTTP server: let them send their close frames.
    app.connections_ended(Duration::from_secs(3)).await;
    // Their registrations are being removed (REGISTER Expires: 0): give that a moment.
    app.sip.shutdown(Duration::from_secs(3)).await;
    Ok(())
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

async fn shutdown_requested() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
