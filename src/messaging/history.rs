//! The message history API for SIP devices (§5.1).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use signaling::sylkrtc::JournalEntry;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::server::App;

use super::*;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/webrtcgateway/messages/history/{account}",
            get(history).options(history),
        )
        .route(
            "/webrtcgateway/messages/history/{account}/{message_id}",
            get(history_after).options(history_after),
        )
}

async fn history(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    history_response(app, account, None, headers).await
}

async fn history_after(
    State(app): State<Arc<App>>,
    Path((account, message_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    history_response(app, account, Some(message_id), headers).await
}

async fn history_response(
    app: Arc<App>,
    account: String,
    message_id: Option<String>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Apikey "))
        .map(|t| t.trim().to_string());
    let Some(token) = token else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let found = {
        let account = account.clone();
        db(&app.store, move |s| {
            if !s.api_token_valid(&account, &token, now)? {
                return Ok(None);
            }
            s.journal(&account, message_id.as_deref(), None, SYNC_LIMIT)
                .map(Some)
        })
        .await
    };
    match found {
        Ok(Some(entries)) => {
            let messages: Vec<JournalEntry> =
                entries.into_iter().filter_map(journal_entry).collect();
            axum::Json(json!({ "account": account, "messages": messages })).into_response()
        }
        Ok(None) => {
            info!(%account, "history refused: bad token");
            (StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
        }
        Err(e) => {
            warn!(error = %e, "history failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}
