//! The HTTP(S) server: the WebSocket endpoint `/webrtcgateway/ws`, the web app at
//! `/webrtcgateway/`, and the listener (TLS with the configured or generated certificate,
//! or plain with `--no-tls`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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

use crate::config::Config;

/// The sylkRTC WebSocket subprotocol, the only one accepted.
pub const SUBPROTOCOL: &str = "sylkRTC-2";

/// State shared by every connection.
pub struct App {
    pub config: Config,
    connection_ids: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl App {
    pub fn new(config: Config) -> Arc<App> {
        Arc::new(App {
            config,
            connection_ids: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
        })
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
        .route("/webrtcgateway/ws", get(websocket))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::SERVER,
            server,
        ))
        .with_state(app)
}

async fn index() -> Html<&'static str> {
    Html(include_str!("web/index.html"))
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
    let limit = app.config.max_frame_size;
    upgrade
        .max_frame_size(limit)
        .max_message_size(limit)
        .on_upgrade(move |socket| crate::ws::run(socket, app, peer, origin))
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
    let app = App::new(config);
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
    match tls {
        Some((rustls, _)) => {
            axum_server::from_tcp_rustls(listener, rustls)
                .handle(handle)
                .serve(make)
                .await?
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(make)
                .await?
        }
    }
    stopper.abort();
    Ok(())
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
