//! 1:1 file transfer over HTTP (§5.1 `filetransfer`): a chat attachment uploaded by the
//! sender's browser, announced to both sides as an `application/sylk-file-transfer` message,
//! downloaded from an unguessable URL, and removed by housekeeping after its time.
//!
//! ```text
//! POST /webrtcgateway/filetransfer/<sender>/<receiver>/<transfer_id>/<filename>   -> OK
//! GET  /webrtcgateway/filetransfer/<h1>/<h2>/<transfer_id>/<filename>             -> the file
//! POST|GET /webrtcgateway/filetransfer/cancel/<transfer_id>                         -> text
//! ```
//!
//! Access: the upload must come from the IP of a live connection that has `<sender>` added
//! (else 403), and the sender or the receiver must be known to storage (else 404). Files live
//! in `<file_transfer_dir>/<h1[0]>/<h1>/<h2>/<transfer_id>/<filename>` with `h(x)` the
//! URL-safe base64 of md5(x) without padding (`h1` is the sender's hash, or the receiver's
//! when only the receiver is known), each with a `meta-<filename>` JSON sidecar. Every path
//! segment must be one plain component, so nothing outside that tree is read or written (403).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use md5::Digest as _;
use serde_json::{json, Value};
use sha1::Digest as _;
use signaling::sylkrtc::{AccountEvent, Event, Identity};
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::filesharing::{
    internal, safe_dir_name, secure_filename, Failure, TempFile, MAX_FILENAME,
};
use crate::messaging::{db, now_iso};
use crate::server::App;
use crate::storage;

/// Files of this size or more go after `filetransfer_expire_days`; smaller ones after twice.
const LARGE: u64 = 50 * 1024 * 1024;
const FILE_TRANSFER: &str = "application/sylk-file-transfer";
/// Extensions served inline (with their MIME type); others as attachments.
const INLINE: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("mov", "video/quicktime"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
];

/// Uploads in progress by transfer id.
#[derive(Default)]
pub struct Uploads(Mutex<HashMap<String, Arc<Notify>>>);

impl Uploads {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes an upload from [`Uploads`] when it ends, however it ends.
struct Tracked<'a>(&'a Uploads, String);

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.0.map().remove(&self.1);
    }
}

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/webrtcgateway/filetransfer/{a}/{b}/{transfer_id}/{filename}",
            get(download).post(upload).options(|| async { "OK" }),
        )
        .route(
            "/webrtcgateway/filetransfer/cancel/{transfer_id}",
            get(cancel).post(cancel),
        )
}

/// `h(x)`: URL-safe base64 of md5(x), without padding.
pub fn hashed(x: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(md5::Md5::digest(x.as_bytes()))
}

fn forbidden() -> Failure {
    (StatusCode::FORBIDDEN, "Forbidden")
}

fn not_found() -> Failure {
    (StatusCode::NOT_FOUND, "Not Found")
}

/// An account in a path: `user@host`, one plain path component.
fn account_segment(text: &str) -> Option<String> {
    (safe_dir_name(text) && text.contains('@') && signaling::sip::Aor::parse(text).is_some())
        .then(|| text.to_string())
}

async fn upload(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((sender, receiver, transfer_id, filename)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let (Some(sender), Some(receiver)) = (account_segment(&sender), account_segment(&receiver))
    else {
        return Err(forbidden());
    };
    if !safe_dir_name(&transfer_id) {
        return Err(forbidden());
    }
    if !app.access.may_act_from(&sender, peer.ip()) {
        info!(%sender, peer = %peer.ip(), "file transfer refused: the sender is not authenticated on a connection from this address");
        return Err(forbidden());
    }
    let name = secure_filename(&filename);
    if name.is_empty() || name.len() > MAX_FILENAME {
        return Err((StatusCode::BAD_REQUEST, "Invalid filename"));
    }
    let known = {
        let (s, r) = (sender.clone(), receiver.clone());
        db(&app.store, move |st| {
            Ok((st.is_known(&s)?, st.is_known(&r)?))
        })
        .await
        .map_err(|e| {
            warn!(error = %e, "file transfer: storage");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        })?
    };
    let (h1, h2) = match known {
        (true, _) => (hashed(&sender), hashed(&receiver)),
        (false, true) => (hashed(&receiver), hashed(&sender)),
        (false, false) => {
            info!(%sender, %receiver, "file transfer refused: neither side is known to storage");
            return Err(not_found());
        }
    };
    let limit = app.config.max_upload_size;
    if let Some(size) = crate::filesharing::declared_over(&headers, limit) {
        info!(%sender, size, limit, "file transfer refused: too large");
        return Err(crate::filesharing::too_large());
    }
    let _slot = app.uploads.begin(peer.ip())?;
    if !app
        .uploads
        .fits(crate::filesharing::declared(&headers).unwrap_or(0))
    {
        warn!(%sender, "file transfer refused: the disk quota of stored files is reached");
        return Err(crate::uploads::FULL);
    }
    let filetype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let root = app.config.file_transfer_dir();
    let first = h1.chars().next().map(String::from).unwrap_or_default();
    let dir = root.join(&first).join(&h1).join(&h2).join(&transfer_id);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| internal("cannot create the transfer folder", e))?;

    let cancel = Arc::new(Notify::new());
    if app
        .transfers
        .map()
        .insert(transfer_id.clone(), cancel.clone())
        .is_some()
    {
        return Err((StatusCode::CONFLICT, "Upload already in progress"));
    }
    let _tracked = Tracked(&app.transfers, transfer_id.clone());
    info!(%sender, %receiver, %transfer_id, filename = %name, "file transfer upload started");
    let mut temp = TempFile(Some(dir.join(format!(".upload-{}", uuid::Uuid::new_v4()))));
    let size =
        crate::filesharing::receive(body, temp.path(), limit, Some(&cancel), &app.uploads).await?;
    let path = dir.join(&name);
    if let Err(e) = crate::filesharing::move_file(temp.path(), &path).await {
        app.uploads.release(size);
        return Err(internal("cannot move an upload into place", e));
    }
    temp.disarm();
    let hash = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || sha1_file(&path))
            .await
            .map_err(|e| internal("hash task", std::io::Error::other(e)))?
            .map_err(|e| internal("cannot hash an upload", e))?
    };
    let now = SystemTime::now();
    let keep_days =
        u64::from(app.config.filetransfer_expire_days) * if size >= LARGE { 1 } else { 2 };
    let until = now + Duration::from_secs(keep_days * 86400);
    let timestamp = now_iso();
    let message = json!({
        "filename": name,
        "filesize": size,
        "sender": {"uri": sender, "display_name": null},
        "receiver": {"uri": receiver, "display_name": null},
        "transfer_id": transfer_id,
        "timestamp": timestamp,
        "until": crate::messaging::format_system_time(until),
        "url": format!("{}/webrtcgateway/filetransfer/{h1}/{h2}/{transfer_id}/{name}", app.base_url),
        "filetype": filetype,
        "hash": hash,
    });
    let meta = dir.join(format!("meta-{name}"));
    if let Err(e) = tokio::fs::write(&meta, message.to_string()).await {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(internal("cannot write a meta file", e));
    }
    info!(%sender, %receiver, %transfer_id, filename = %name, size, "file transfer uploaded");
    announce(
        &app,
        &sender,
        &receiver,
        &transfer_id,
        &timestamp,
        message,
        known,
    )
    .await?;
    Ok("OK".into_response())
}

/// Stores the `application/sylk-file-transfer` message for both sides (those known to
/// storage) and tells them: `message` to the receiver, `sync` add to the sender.
async fn announce(
    app: &Arc<App>,
    sender: &str,
    receiver: &str,
    transfer_id: &str,
    timestamp: &str,
    message: Value,
    (sender_known, receiver_known): (bool, bool),
) -> Result<(), Failure> {
    let content = message.to_string();
    let entry = |account: &str, contact: &str, direction: &str, state: &str| storage::Entry {
        account: account.to_string(),
        message_id: transfer_id.to_string(),
        contact: contact.to_string(),
        direction: Some(direction.into()),
        content_type: FILE_TRANSFER.into(),
        content: content.clone(),
        disposition: Some(vec!["positive-delivery".into(), "display".into()]),
        state: Some(state.into()),
        timestamp: timestamp.to_string(),
        created_at: now_iso(),
    };
    let outgoing = sender_known.then(|| entry(sender, receiver, "outgoing", "accepted"));
    let incoming = receiver_known.then(|| entry(receiver, sender, "incoming", "received"));
    db(&app.store, move |s| {
        if let Some(e) = outgoing {
            s.add(&e)?;
        }
        if let Some(e) = incoming {
            s.add(&e)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| {
        warn!(error = %e, "file transfer: cannot store the messages");
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    })?;
    let sync = json!({
        "transaction": "1", "account": sender, "sylkrtc": "account-message", "uri": receiver,
        "message_id": transfer_id, "content": content, "content_type": FILE_TRANSFER,
        "timestamp": timestamp, "server_generated": true,
    });
    app.access.deliver(
        sender,
        None,
        &crate::messaging::sync_event(sender, "message", "add", sync),
    );
    let event = Event::account(
        receiver,
        AccountEvent::Message {
            sender: Identity::new(sender, None),
            timestamp: timestamp.to_string(),
            disposition_notification: Some(vec!["positive-delivery".into(), "display".into()]),
            message_id: transfer_id.to_string(),
            content_type: FILE_TRANSFER.into(),
            content: content.clone(),
            direction: None,
        },
    );
    app.access.deliver(receiver, None, &event.to_json());
    crate::push::notify(
        app,
        receiver,
        crate::push::Push::Message {
            from: sender.to_string(),
            from_display_name: None,
            content_type: FILE_TRANSFER.into(),
            content,
            message_id: transfer_id.to_string(),
        },
    );
    Ok(())
}

fn sha1_file(path: &FsPath) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha1::Sha1::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

async fn download(
    State(app): State<Arc<App>>,
    Path((h1, h2, transfer_id, filename)): Path<(String, String, String, String)>,
) -> Result<Response, Failure> {
    // Every segment one plain component, the filename as the upload stored it.
    if ![&h1, &h2, &transfer_id, &filename]
        .iter()
        .all(|s| safe_dir_name(s))
        || secure_filename(&filename) != filename
        || filename.starts_with("meta-")
    {
        info!(%h1, %h2, %transfer_id, %filename, "file transfer download refused: path outside the store");
        return Err(forbidden());
    }
    let first = h1.chars().next().map(String::from).unwrap_or_default();
    let path = app
        .config
        .file_transfer_dir()
        .join(first)
        .join(&h1)
        .join(&h2)
        .join(&transfer_id)
        .join(&filename);
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (mime, disposition) = match INLINE.iter().find(|(e, _)| *e == ext) {
        Some((_, mime)) => (*mime, "inline"),
        None => ("application/octet-stream", "attachment"),
    };
    info!(%transfer_id, %filename, "file transfer download");
    crate::filesharing::serve_file(&path, &filename, mime, disposition).await
}

async fn cancel(State(app): State<Arc<App>>, Path(transfer_id): Path<String>) -> String {
    let upload = app.transfers.map().get(&transfer_id).cloned();
    match upload {
        Some(cancel) => {
            cancel.notify_one();
            info!(%transfer_id, "file transfer upload cancelled");
            format!("Cancelled upload {transfer_id}\n")
        }
        None => format!("No active upload with transfer_id {transfer_id}\n"),
    }
}

/// Whether a file of `size` bytes last changed `age` ago is past its time.
pub fn expired(size: u64, age: Duration, days: u32) -> bool {
    let days = u64::from(days) * if size >= LARGE { 1 } else { 2 };
    age > Duration::from_secs(days * 86400)
}

/// Removes expired files (with their sidecars) under `root` and the folders left empty;
/// returns how many files were removed.
pub fn sweep(root: &FsPath, now: SystemTime, days: u32) -> usize {
    fn walk(dir: &FsPath, now: SystemTime, days: u32, removed: &mut usize) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        let mut empty = true;
        for entry in entries.flatten() {
            let path: PathBuf = entry.path();
            let Ok(meta) = entry.metadata() else {
                empty = false;
                continue;
            };
            if meta.is_dir() {
                if walk(&path, now, days, removed) {
                    let _ = std::fs::remove_dir(&path);
                } else {
                    empty = false;
                }
                continue;
            }
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let name = entry.file_name().to_string_lossy().into_owned();
            // A sidecar goes with its file; an upload in progress is never old.
            let size = if let Some(file) = name.strip_prefix("meta-") {
                std::fs::metadata(dir.join(file))
                    .map(|m| m.len())
                    .unwrap_or(0)
            } else {
                meta.len()
            };
            if expired(size, age, days) && std::fs::remove_file(&path).is_ok() {
                if !name.starts_with("meta-") {
                    *removed += 1;
                }
            } else {
                empty = false;
            }
        }
        empty
    }
    let mut removed = 0;
    walk(root, now, days, &mut removed);
    removed
}

/// Hourly housekeeping of the transferred files.
pub async fn housekeeping(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let root = app.config.file_transfer_dir();
        let shared = app.config.filesharing_dir();
        let days = app.config.filetransfer_expire_days;
        let (removed, used) = tokio::task::spawn_blocking(move || {
            let removed = sweep(&root, SystemTime::now(), days);
            let used = crate::uploads::disk_usage(&root) + crate::uploads::disk_usage(&shared);
            (removed, used)
        })
        .await
        .unwrap_or((0, app.uploads.used()));
        // Counted again: deletions of every kind since the last count are caught up with.
        app.uploads.recount(used);
        if removed > 0 {
            info!(removed, "expired file transfers removed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_urlsafe_md5() {
        // md5("alice@example.com") in URL-safe base64 without padding: 22 characters.
        let h = hashed("alice@example.com");
        assert_eq!(h.len(), 22);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{h}"
        );
        assert_ne!(h, hashed("bob@example.com"));
    }

    #[test]
    fn expiry_by_size() {
        let day = Duration::from_secs(86400);
        assert!(!expired(10, day * 29, 15));
        assert!(expired(10, day * 31, 15));
        assert!(!expired(LARGE, day * 14, 15));
        assert!(expired(LARGE, day * 16, 15));
    }

    #[test]
    fn sweep_removes_old_files_and_empty_folders() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join("a/h1/h2/t1");
        let new = root.path().join("a/h1/h2/t2");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::create_dir_all(&new).unwrap();
        for dir in [&old, &new] {
            std::fs::write(dir.join("f.txt"), b"x").unwrap();
            std::fs::write(dir.join("meta-f.txt"), b"{}").unwrap();
        }
        let now = SystemTime::now();
        let past = now - Duration::from_secs(40 * 86400);
        for name in ["f.txt", "meta-f.txt"] {
            let f = std::fs::File::options()
                .write(true)
                .open(old.join(name))
                .unwrap();
            f.set_modified(past).unwrap();
        }
        assert_eq!(sweep(root.path(), now, 15), 1);
        assert!(!old.exists(), "the old transfer's folder is gone");
        assert!(new.join("f.txt").exists() && new.join("meta-f.txt").exists());
        assert_eq!(
            sweep(root.path(), now + Duration::from_secs(31 * 86400), 15),
            1
        );
        assert!(!root.path().join("a").exists());
        assert_eq!(sweep(&root.path().join("missing"), now, 15), 0);
    }
}
