//! The admin listener (`admin_listen`, plain HTTP, loopback by default): Prometheus
//! `/metrics`, `/health` and `/ready`, and the admin API under `/admin/`, which needs
//! `Authorization: Bearer <admin_token>`.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /admin/status` | counts, version, uptime, draining |
//! | `GET /admin/connections` | every WebSocket connection: id, address, accounts |
//! | `GET /admin/rooms` | every room and its participants |
//! | `GET /admin/calls` | every 1:1 call |
//! | `DELETE /admin/connections/{id}` | closes the connection (1001) |
//! | `DELETE /admin/rooms/{room}/participants/{session}` | the participant gets `terminated` |
//! | `DELETE /admin/calls/{session}` | hangs the call up |
//!
//! Ending something answers 202 (the connection's worker does it in its turn), 404 when there
//! is no such thing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::connection::Order;
use crate::server::App;

/// What the admin handlers share.
#[derive(Clone)]
pub struct Admin {
    pub app: Arc<App>,
    pub metrics: PrometheusHandle,
    token: Arc<str>,
    started: Instant,
}

/// How long a listing waits for each connection's worker.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The admin token a client uses: `admin_token`, else the one the gateway keeps in
/// `<data_dir>/admin.token` (never made here: a file made by another user, root say, would
/// keep the gateway from starting).
pub fn read_token(config: &crate::config::Config) -> anyhow::Result<Option<String>> {
    if let Some(t) = &config.admin_token {
        return Ok(Some(t.trim().to_string()));
    }
    let path = config.data_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().len() >= 16 => Ok(Some(t.trim().to_string())),
        Ok(_) => anyhow::bail!("{} is too short (at least 16 characters)", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The admin token of the gateway: [`read_token`], or one made now into
/// `<data_dir>/admin.token`, readable by the gateway's user only.
pub fn token(config: &crate::config::Config) -> anyhow::Result<String> {
    if let Some(t) = read_token(config)? {
        return Ok(t);
    }
    let path = config.data_dir.join("admin.token");
    let token: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::tls::write_private(&path, token.as_bytes())?;
    info!(path = %path.display(), "generated the admin API token");
    Ok(token)
}

pub fn router(admin: Admin) -> Router {
    let api = Router::new()
        .route("/admin/status", get(status))
        .route("/admin/connections", get(connections))
        .route("/admin/connections/{id}", delete(close_connection))
        .route("/admin/rooms", get(rooms))
        .route(
            "/admin/rooms/{room}/participants/{session}",
            delete(remove_participant),
        )
        .route("/admin/calls", get(calls))
        .route("/admin/calls/{session}", delete(end_call))
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            authorize,
        ));
    Router::new()
        .route("/metrics", get(metrics))
        .merge(api)
        .with_state(admin.clone())
        .merge(crate::health::router().with_state(admin.app))
}

/// Starts the admin listener; returns its address.
pub async fn serve(
    admin: Admin,
    addr: std::net::SocketAddr,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = crate::server::bind_tcp(addr)
        .with_context(|| format!("admin_listen: cannot bind {addr}"))?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let local = listener.local_addr()?;
    let mut shutdown = admin.app.shutdown_signal();
    let app = router(admin);
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            warn!(error = %e, "admin listener failed");
        }
    });
    Ok(local)
}

async fn authorize(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), admin.token.as_bytes()) => {
            next.run(request).await
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "a valid admin token is needed (Authorization: Bearer ...)"})),
        )
            .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metrics(State(admin): State<Admin>) -> Response {
    let body = crate::metrics::render(&admin.app, &admin.metrics).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn status(State(admin): State<Admin>) -> Json<Value> {
    let app = &admin.app;
    let (connections, accounts) = app.access.counts();
    let (rooms, participants) = {
        let rooms = app.rooms();
        (rooms.len(), rooms.counts().0)
    };
    let media = app.engine.shard_stats().await;
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": admin.started.elapsed().as_secs(),
        "draining": app.draining(),
        "connections": connections,
        "accounts": accounts,
        "calls": app.live_calls(),
        "rooms": rooms,
        "participants": participants,
        "media": media.map(|shards| json!({
            "shards": shards.len(),
            "peers": shards.iter().map(|s| s.peers).sum::<usize>(),
        })),
    }))
}

async fn connections(State(admin): State<Admin>) -> Json<Value> {
    let list: Vec<Value> = admin
        .app
        .access
        .list()
        .into_iter()
        .map(|(handle, accounts)| {
            json!({
                "id": handle.id,
                "address": handle.peer.to_string(),
                "accounts": accounts.into_iter().map(|(account, authenticated)| {
                    json!({"account": account, "authenticated": authenticated})
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "connections": list }))
}

async fn rooms(State(admin): State<Admin>) -> Json<Value> {
    let rooms = admin.app.rooms();
    let list: Vec<Value> = rooms
        .all()
        .into_iter()
        .map(|room| {
            json!({
                "uri": room.uri,
                "seconds": room.created.elapsed().as_secs(),
                "participants": room.participants.iter().map(|p| json!({
                    "session": p.session,
                    "account": p.account,
                    "display_name": p.display_name,
                    "connection": match &p.member {
                        crate::rooms::Member::Browser(c) => Some(c.id),
                        crate::rooms::Member::Phone(_) => None,
                    },
                    "type": if p.is_phone() { "sip" } else { "webrtc" },
                    "feeds": p.attached.len(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "rooms": list }))
}

/// Every connection's calls, with the connection's id.
async fn all_calls(app: &App) -> Vec<(u64, crate::calls::CallSummary)> {
    let asks = app.access.list().into_iter().filter_map(|(handle, _)| {
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle.order(Order::Calls(tx)).then_some(async move {
            let calls = tokio::time::timeout(ASK_TIMEOUT, rx)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            calls.into_iter().map(move |c| (handle.id, c))
        })
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn calls(State(admin): State<Admin>) -> Json<Value> {
    let list: Vec<Value> = all_calls(&admin.app)
        .await
        .into_iter()
        .map(|(conn, c)| {
            let mut v = json!(c);
            v["connection"] = json!(conn);
            v
        })
        .collect();
    Json(json!({ "calls": list }))
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(json!({"status": "accepted"}))).into_response()
}

/// The connection's worker has too many orders queued.
fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "the connection is busy: try again"})),
    )
        .into_response()
}

async fn close_connection(State(admin): State<Admin>, UrlPath(id): UrlPath<u64>) -> Response {
    match admin.app.access.handle(id) {
        Some(h) if h.order(Order::Close) => {
            info!(conn = id, "admin: closing a connection");
            accepted()
        }
        Some(_) => busy(),
        None => not_found(format!("no connection {id}")),
    }
}

async fn remove_participant(
    State(admin): State<Admin>,
    UrlPath((room, session)): UrlPath<(String, String)>,
) -> Response {
    let handle = admin
        .app
        .rooms()
        .room(&room)
        .and_then(|r| r.get(&session))
        .map(|p| match &p.member {
            crate::rooms::Member::Browser(c) => Ok(c.clone()),
            crate::rooms::Member::Phone(call) => Err(call.clone()),
        });
    match handle {
        Some(Err(phone)) => {
            // The BYE's end of the call takes it out of the room.
            info!(%room, %session, "admin: hanging up a phone in a room");
            if phone.hangup() {
                accepted()
            } else {
                busy()
            }
        }
        Some(Ok(h)) if h.order(Order::LeaveRoom(session.clone())) => {
            info!(%room, %session, "admin: removing a participant");
            accepted()
        }
        Some(Ok(_)) => busy(),
        None => not_found(format!("no participant {session} in {room}")),
    }
}

async fn end_call(State(admin): State<Admin>, UrlPath(session): UrlPath<String>) -> Response {
    let owner = all_calls(&admin.app)
        .await
        .into_iter()
        .find(|(_, c)| c.session == session)
        .and_then(|(conn, _)| admin.app.access.handle(conn));
    match owner {
        Some(h) if h.order(Order::EndCall(session.clone())) => {
            info!(%session, "admin: ending a call");
            accepted()
        }
        Some(_) => busy(),
        None => not_found(format!("no call {session}")),
    }
}

impl Admin {
    pub fn new(app: Arc<App>, metrics: PrometheusHandle, token: String) -> Admin {
        Admin {
            app,
            metrics,
            token: token.into(),
            started: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abc", b"abcdef"));
    }

    #[test]
    fn a_generated_token_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let first = token(&config).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(token(&config).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("admin.token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
