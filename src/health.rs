//! `/health` and `/ready` for load balancers and supervisors.
//!
//! * `/health`: the process answers HTTP (200, `{"status": "ok"}`).
//! * `/ready`: it can take new sessions: not shutting down, every media shard answers a
//!   command, the store answers a query, the SIP user agent has its socket, and in a cluster
//!   its node is on the bus (else it cannot place or join rooms of other nodes). 200 when all
//!   hold, else 503; the body names each check, so an operator sees which one failed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::App;

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(app): State<Arc<App>>) -> (StatusCode, Json<Value>) {
    let accepting = !*app.shutdown_signal().borrow() && !app.draining();
    let media = tokio::time::timeout(CHECK_TIMEOUT, app.engine.shard_stats())
        .await
        .ok()
        .flatten();
    let store = {
        let store = app.store.clone();
        let query = tokio::task::spawn_blocking(move || store.schema_version().is_ok());
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, query).await,
            Ok(Ok(true))
        )
    };
    let sip = app.sip.local_addr().port() != 0;
    let cluster = app.cluster.get();
    let bus = cluster.is_none_or(|c| c.on_bus());
    let ok = accepting && media.is_some() && store && sip && bus;
    let mut body = json!({
        "status": if ok { "ready" } else { "not ready" },
        "accepting": accepting,
        "media": media.as_ref().map_or(json!(false), |shards| json!({"shards": shards.len(),
            "peers": shards.iter().map(|s| s.peers).sum::<usize>()})),
        "store": store,
        "sip": sip,
    });
    if let Some(c) = cluster {
        body["cluster"] = json!({"node": c.node, "bus": bus});
    }
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}
