//! Conference file sharing over HTTP (§5.1 "filesharing").
//!
//! A publisher session of an active room uploads a file with
//! `POST /webrtcgateway/filesharing/<room>/<session_id>/<filename>` (the raw body is the file)
//! and any publisher session of that room downloads it with `GET` on the same path. Files live
//! in `<filesharing_dir>/<room>/`, each with a `meta-<filename>` JSON sidecar, and are listed in
//! the room: every room session gets `file-sharing` with a new file, and a joiner gets the whole
//! list. They are deleted when the room is destroyed (there are no persistent rooms yet). In a
//! cluster, a request for a room held by another node is redirected there (307).
//!
//! Safety of paths: the room must be a single plain path component (a room URI may contain
//! `/`, and `..` is a valid host), the filename goes through [`secure_filename`], and a download
//! is served only for a file registered in the room, so nothing outside
//! `<filesharing_dir>/<room>/` is ever read or written.

use std::io::ErrorKind;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use signaling::sylkrtc::{Identity, SharedFile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::{info, warn};

use crate::rooms::Room;
use crate::server::App;

/// Uploads in progress are written here (inside `filesharing_dir`, so the final rename stays on
/// one file system); no room can be named like it, since room folders never start with a dot.
const UPLOADS: &str = ".uploads";

/// Longest stored filename: `meta-` plus the name plus a collision suffix must stay within the
/// 255 bytes most file systems allow.
pub(crate) const MAX_FILENAME: usize = 240;

/// File-sharing state shared by all requests.
#[derive(Default)]
pub struct Store {
    /// Held while a finished upload picks its name and moves into its room folder, and while a
    /// destroyed room's files are deleted, so two uploads never pick the same name.
    write: tokio::sync::Mutex<()>,
}

/// The filesharing routes; every response carries the CORS headers.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/webrtcgateway/filesharing/{room}/{session}/{filename}",
            get(download).post(upload).options(preflight),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        ))
}

/// A refusal: the status and its `text/plain` body.
pub(crate) type Failure = (StatusCode, &'static str);

type Reply = Result<Response, Failure>;

fn forbidden() -> Failure {
    (StatusCode::FORBIDDEN, "Forbidden")
}

fn not_found() -> Failure {
    (StatusCode::NOT_FOUND, "Not Found")
}

pub(crate) fn too_large() -> Failure {
    (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
}

pub(crate) fn internal(what: &str, e: std::io::Error) -> Failure {
    warn!(error = %e, "file sharing: {what}");
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A request that passed the access check.
struct Access {
    /// The room URI (the path's room, lower-cased).
    uri: String,
    room_id: u64,
    dir: PathBuf,
    session: String,
    uploader: Identity,
}

/// `<room>` lower-cased must be an active room and `<session>` one of its publisher sessions.
fn access(app: &App, room: &str, session: &str) -> Result<Access, Failure> {
    let uri = room.to_lowercase();
    let rooms = app.rooms();
    let Some((r, p)) = rooms
        .room(&uri)
        .and_then(|r| r.get(session).map(|p| (r, p)))
    else {
        info!(room = %uri, %session, "file sharing refused: not a session of an active room");
        return Err(forbidden());
    };
    if !safe_dir_name(&uri) {
        warn!(room = %uri, "file sharing refused: the room name cannot be a folder name");
        return Err(forbidden());
    }
    Ok(Access {
        dir: app.config.filesharing_dir().join(&uri),
        uri,
        room_id: r.id,
        session: session.to_string(),
        uploader: p.identity(),
    })
}

/// Whether `name` is one plain path component that cannot mean anything else: not empty, no
/// separators or NUL, not starting with a dot (which also rules out `.`, `..` and
/// [`UPLOADS`]), and short enough for a file system.
pub(crate) fn safe_dir_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

async fn preflight(
    State(app): State<Arc<App>>,
    Path((room, session, _)): Path<(String, String, String)>,
) -> Reply {
    // A room of another node: the request that follows is redirected there (a preflight
    // itself may not be redirected).
    if held_elsewhere(&app, &room).await.is_some() {
        return Ok("OK".into_response());
    }
    access(&app, &room, &session)?;
    Ok("OK".into_response())
}

/// In a cluster: the base URL of the node holding `room` when that is another node.
async fn held_elsewhere(app: &App, room: &str) -> Option<String> {
    let cluster = app.cluster.get()?;
    let uri = room.to_lowercase();
    if app.rooms().room(&uri).is_some() {
        return None;
    }
    cluster.holder_url(&uri).await
}

/// A redirect of this request to the node at `base` (307: the method and body are kept).
fn redirect(base: &str, uri: &http::Uri) -> Response {
    let target = format!(
        "{base}{}",
        uri.path_and_query().map_or(uri.path(), |p| p.as_str())
    );
    info!(%target, "file sharing: the room lives on another node, redirected");
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
}

async fn upload(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path((room, session, filename)): Path<(String, String, String)>,
    uri: http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    if let Some(base) = held_elsewhere(&app, &room).await {
        return Ok(redirect(&base, &uri));
    }
    let access = access(&app, &room, &session)?;
    let name = secure_filename(&filename);
    if name.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "Invalid filename"));
    }
    if name.len() > MAX_FILENAME {
        return Err((StatusCode::BAD_REQUEST, "Filename too long"));
    }
    let limit = app.config.max_upload_size;
    if let Some(size) = declared_over(&headers, limit) {
        info!(room = %access.uri, session = %access.session, size, limit, "upload refused: too large");
        return Err(too_large());
    }
    let _slot = app.uploads.begin(peer.ip())?;
    if !app.uploads.fits(declared(&headers).unwrap_or(0)) {
        warn!(room = %access.uri, "upload refused: the disk quota of stored files is reached");
        return Err(crate::uploads::FULL);
    }
    info!(room = %access.uri, session = %access.session, account = %access.uploader.uri, filename = %name, "upload started");

    let uploads = app.config.filesharing_dir().join(UPLOADS);
    tokio::fs::create_dir_all(&uploads)
        .await
        .map_err(|e| internal("cannot create the uploads folder", e))?;
    let mut temp = TempFile(Some(uploads.join(crate::videoroom::uuid4())));
    let size = receive(body, temp.path(), limit, None, &app.uploads).await?;
    let file = match store(&app, &access, &name, &mut temp, size).await {
        Ok(file) => file,
        Err(e) => {
            app.uploads.release(size);
            return Err(e);
        }
    };
    info!(room = %access.uri, account = %access.uploader.uri, filename = %file.filename, size, "file uploaded");
    Ok("OK".into_response())
}

/// The request's declared `Content-Length` when it is over `limit`.
pub(crate) fn declared_over(headers: &HeaderMap, limit: u64) -> Option<u64> {
    declared(headers).filter(|n| *n > limit)
}

/// The request's declared `Content-Length`.
pub(crate) fn declared(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Writes the body to `path`; its size, or 413 past `limit` (also without a Content-Length),
/// 507 past the disk quota, or 400 when `cancel` is notified first. What was written counts
/// toward the quota; after a failure it no longer does (the caller's [`TempFile`] deletes it).
pub(crate) async fn receive(
    body: Body,
    path: &FsPath,
    limit: u64,
    cancel: Option<&tokio::sync::Notify>,
    quota: &crate::uploads::UploadLimits,
) -> Result<u64, Failure> {
    let mut written = 0;
    let result = write_body(body, path, limit, cancel, quota, &mut written).await;
    if result.is_err() {
        quota.release(written);
    }
    result
}

async fn write_body(
    body: Body,
    path: &FsPath,
    limit: u64,
    cancel: Option<&tokio::sync::Notify>,
    quota: &crate::uploads::UploadLimits,
    written: &mut u64,
) -> Result<u64, Failure> {
    let file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal("cannot create an upload file", e))?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut stream = body.into_data_stream();
    loop {
        let next = match cancel {
            Some(cancel) => tokio::select! {
                _ = cancel.notified() => {
                    info!("upload cancelled");
                    return Err((StatusCode::BAD_REQUEST, "Upload cancelled"));
                }
                next = stream.next() => next,
            },
            None => stream.next().await,
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            info!(error = %e, "upload aborted");
            (StatusCode::BAD_REQUEST, "Upload aborted")
        })?;
        let size = *written + chunk.len() as u64;
        if size > limit {
            info!(limit, "upload refused: too large");
            return Err(too_large());
        }
        if !quota.reserve(chunk.len() as u64) {
            warn!(
                used = quota.used(),
                "upload refused: the disk quota of stored files is reached"
            );
            return Err(crate::uploads::FULL);
        }
        *written = size;
        out.write_all(&chunk)
            .await
            .map_err(|e| internal("cannot write an upload", e))?;
    }
    // Flushing the tokio file waits for its last write, so the file is complete on disk.
    out.flush()
        .await
        .map_err(|e| internal("cannot write an upload", e))?;
    Ok(*written)
}

/// Moves a received upload into its room folder under a free name, writes the sidecar and
/// announces the file to the room.
async fn store(
    app: &App,
    access: &Access,
    name: &str,
    temp: &mut TempFile,
    size: u64,
) -> Result<SharedFile, Failure> {
    let _write = app.files.write.lock().await;
    let alive = |app: &App| {
        app.rooms()
            .room(&access.uri)
            .is_some_and(|r| r.id == access.room_id)
    };
    if !alive(app) {
        info!(room = %access.uri, "upload dropped: the room was destroyed meanwhile");
        return Err(forbidden());
    }
    let dir = &access.dir;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| internal("cannot create the room folder", e))?;
    let name = free_name(dir, name)
        .await
        .map_err(|e| internal("cannot look for a free filename", e))?;
    let path = dir.join(&name);
    move_file(temp.path(), &path)
        .await
        .map_err(|e| internal("cannot move an upload into place", e))?;
    temp.disarm();
    let file = SharedFile {
        filename: name.clone(),
        filesize: i64::try_from(size).unwrap_or(i64::MAX),
        uploader: access.uploader.clone(),
        session: access.session.clone(),
    };
    let meta = dir.join(format!("meta-{name}"));
    let json = serde_json::to_vec(&file).expect("a SharedFile serializes");
    if let Err(e) = tokio::fs::write(&meta, json).await {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(internal("cannot write a meta file", e));
    }
    if !app
        .rooms()
        .add_file(&access.uri, access.room_id, file.clone())
    {
        // The room emptied while the file was moved; its cleanup did not know this file.
        let _ = tokio::fs::remove_file(&path).await;
        let _ = tokio::fs::remove_file(&meta).await;
        let _ = tokio::fs::remove_dir(dir).await;
        info!(room = %access.uri, "upload dropped: the room was destroyed meanwhile");
        return Err(forbidden());
    }
    Ok(file)
}

/// The first of `name`, `stem-1.ext`, `stem-2.ext`, ... (SylkServer's `_fix_path`) such that
/// neither it nor its `meta-` sidecar exists, so an uploaded `meta-x` is never overwritten by
/// the sidecar of a later `x`.
async fn free_name(dir: &FsPath, name: &str) -> std::io::Result<String> {
    let (stem, ext) = splitext(name);
    for n in 0..100_000u32 {
        let candidate = if n == 0 {
            name.to_string()
        } else {
            format!("{stem}-{n}{ext}")
        };
        if !exists(&dir.join(&candidate)).await?
            && !exists(&dir.join(format!("meta-{candidate}"))).await?
        {
            return Ok(candidate);
        }
    }
    Err(std::io::Error::other("no free filename"))
}

async fn exists(path: &FsPath) -> std::io::Result<bool> {
    match tokio::fs::symlink_metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Renames, or copies when `to` is on another file system.
pub(crate) async fn move_file(from: &FsPath, to: &FsPath) -> std::io::Result<()> {
    if tokio::fs::rename(from, to).await.is_ok() {
        return Ok(());
    }
    tokio::fs::copy(from, to).await?;
    let _ = tokio::fs::remove_file(from).await;
    Ok(())
}

/// An upload file that is deleted unless it was moved into place.
pub(crate) struct TempFile(pub(crate) Option<PathBuf>);

impl TempFile {
    pub(crate) fn path(&self) -> &FsPath {
        self.0.as_deref().expect("not disarmed")
    }

    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn download(
    State(app): State<Arc<App>>,
    Path((room, session, filename)): Path<(String, String, String)>,
    uri: http::Uri,
) -> Reply {
    if let Some(base) = held_elsewhere(&app, &room).await {
        return Ok(redirect(&base, &uri));
    }
    let access = access(&app, &room, &session)?;
    let name = secure_filename(&filename);
    let registered = !name.is_empty()
        && app
            .rooms()
            .room(&access.uri)
            .is_some_and(|r| r.files.iter().any(|f| f.filename == name));
    if !registered {
        info!(room = %access.uri, account = %access.uploader.uri, filename = %name, "download refused: no such file");
        return Err(not_found());
    }
    info!(room = %access.uri, account = %access.uploader.uri, filename = %name, "file download");
    serve_file(
        &access.dir.join(&name),
        &name,
        "application/octet-stream",
        "attachment",
    )
    .await
}

/// The file at `path` as a download: 404 when it is missing. `name` must be a
/// [`secure_filename`] (it goes inside quotes in `Content-Disposition`).
pub(crate) async fn serve_file(path: &FsPath, name: &str, mime: &str, disposition: &str) -> Reply {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(internal("cannot open a file to serve", e)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| internal("cannot read a file to serve", e))?
        .len();
    Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            format!("{disposition};filename=\"{name}\""),
        )
        .body(Body::from_stream(read_chunks(file)))
        .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
}

/// The file's contents as a stream of chunks; it ends after the first error.
fn read_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Deletes the shared files of a destroyed room, and its folder once empty (in the background).
/// The shared files a persistent room kept from its earlier lifetimes: every `meta-` sidecar of
/// its folder whose file is still there, in name order.
pub async fn kept_files(app: &App, uri: &str) -> Vec<SharedFile> {
    if !safe_dir_name(uri) {
        return Vec::new();
    }
    let dir = app.config.filesharing_dir().join(uri);
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return Vec::new();
    };
    let mut files = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(filename) = name.strip_prefix("meta-") else {
            continue;
        };
        if !tokio::fs::try_exists(dir.join(filename))
            .await
            .unwrap_or(false)
        {
            continue;
        }
        let Ok(text) = tokio::fs::read(entry.path()).await else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
            warn!(room = %uri, file = %name, "unreadable meta file: skipped");
            continue;
        };
        let (Some(size), Some(uploader), Some(session)) = (
            v["filesize"].as_i64(),
            v["uploader"]["uri"].as_str(),
            v["session"].as_str(),
        ) else {
            continue;
        };
        files.push(SharedFile {
            filename: filename.to_string(),
            filesize: size,
            uploader: Identity::new(uploader, v["uploader"]["display_name"].as_str()),
            session: session.to_string(),
        });
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    files
}

pub fn room_destroyed(app: &Arc<App>, room: Room) {
    let Room { uri, files, .. } = room;
    if files.is_empty() || !safe_dir_name(&uri) {
        return;
    }
    if app.config.room_settings(&uri).is_some_and(|s| s.persistent) {
        info!(room = %uri, files = files.len(), "persistent room: its shared files are kept");
        return;
    }
    let dir = app.config.filesharing_dir().join(&uri);
    let app = app.clone();
    tokio::spawn(async move {
        let _write = app.files.write.lock().await;
        for f in &files {
            for name in [f.filename.clone(), format!("meta-{}", f.filename)] {
                let path = dir.join(&name);
                let size = tokio::fs::metadata(&path)
                    .await
                    .map(|m| m.len())
                    .unwrap_or(0);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => app.uploads.release(size),
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        warn!(room = %uri, file = %name, error = %e, "cannot delete a shared file")
                    }
                }
            }
        }
        // Only when empty: anything else in it is not this room's.
        if let Err(e) = tokio::fs::remove_dir(&dir).await {
            if e.kind() != ErrorKind::NotFound {
                warn!(room = %uri, folder = %dir.display(), error = %e, "cannot delete the room's file folder");
            }
        }
        info!(room = %uri, files = files.len(), "deleted the room's shared files");
    });
}

/// Python's `str.split()` separators among ASCII characters.
fn is_python_ascii_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c' | '\x1d' | '\x1e' | '\x1f'
    )
}

/// werkzeug's `secure_filename` as it runs on a POSIX server: NFKD, then non-ASCII characters
/// dropped, `/` turned into a space, runs of whitespace joined by `_`, everything but
/// `[A-Za-z0-9_.-]` dropped, leading and trailing `.` and `_` stripped. It may return `""`.
pub fn secure_filename(filename: &str) -> String {
    let nfkd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfkd().normalize(filename);
    let ascii: String = nfkd
        .chars()
        .filter(char::is_ascii)
        .map(|c| if c == '/' { ' ' } else { c })
        .collect();
    let joined = ascii
        .split(is_python_ascii_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let kept: String = joined
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .collect();
    kept.trim_matches(['.', '_']).to_string()
}

/// Python's `posixpath.splitext`: the extension starts at the last dot, unless every character
/// before that dot is a dot too.
fn splitext(name: &str) -> (&str, &str) {
    let start = name.rfind('/').map_or(0, |i| i + 1);
    match name.rfind('.') {
        Some(dot) if dot > start && name[start..dot].chars().any(|c| c != '.') => {
            (&name[..dot], &name[dot..])
        }
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_filename_matches_werkzeug() {
        let cases = [
            // werkzeug's documented examples
            ("My cool movie.mov", "My_cool_movie.mov"),
            ("../../../etc/passwd", "etc_passwd"),
            (
                "i contain cool \u{fc}ml\u{e4}uts.txt",
                "i_contain_cool_umlauts.txt",
            ),
            // unicode: decomposed, then non-ASCII dropped
            ("e\u{301}te\u{301}.txt", "ete.txt"),
            ("\u{fb01}le.txt", "file.txt"),
            ("\u{ff26}\u{ff55}\u{ff4c}\u{ff4c}.txt", "Full.txt"),
            ("\u{65e5}\u{672c}\u{8a9e}.txt", "txt"),
            ("a\u{a0}b", "a_b"),
            ("a\u{2003}b", "a_b"),
            // separators and whitespace
            ("/etc/passwd", "etc_passwd"),
            ("a/b", "a_b"),
            ("a / b", "a_b"),
            ("a\tb\nc\rd", "a_b_c_d"),
            ("a   b", "a_b"),
            ("a\x1cb\x1fc", "a_b_c"),
            ("  leading and trailing  ", "leading_and_trailing"),
            // backslash is no separator on POSIX: just dropped
            ("C:\\Windows\\x.ini", "CWindowsx.ini"),
            // dropped characters and stripped ends
            ("semi;colon&amp.txt", "semicolonamp.txt"),
            ("._hidden_.", "hidden"),
            (".bashrc", "bashrc"),
            ("__init__.py", "init__.py"),
            ("file-name_1.2.tar.gz", "file-name_1.2.tar.gz"),
            ("CON", "CON"),
            ("", ""),
            (".", ""),
            ("..", ""),
            ("...", ""),
            ("._", ""),
            ("\u{65e5}\u{672c}", ""),
            ("\0", ""),
        ];
        for (input, want) in cases {
            assert_eq!(secure_filename(input), want, "secure_filename({input:?})");
        }
    }

    #[test]
    fn splitext_matches_python() {
        assert_eq!(splitext("slides.pdf"), ("slides", ".pdf"));
        assert_eq!(splitext("archive.tar.gz"), ("archive.tar", ".gz"));
        assert_eq!(splitext("README"), ("README", ""));
        assert_eq!(splitext(".bashrc"), (".bashrc", ""));
        assert_eq!(splitext("..x"), ("..x", ""));
        assert_eq!(splitext("a..b"), ("a.", ".b"));
        assert_eq!(splitext("name."), ("name", "."));
    }

    #[test]
    fn room_folder_names() {
        assert!(safe_dir_name("room1@videoconference.example.com"));
        assert!(safe_dir_name("example.com"));
        for bad in [
            "",
            ".",
            "..",
            ".uploads",
            "a/b@example.com",
            "../x@example.com",
            "a\\b",
            "a\0b",
        ] {
            assert!(!safe_dir_name(bad), "{bad:?}");
        }
        assert!(!safe_dir_name(&"x".repeat(256)));
    }

    #[tokio::test]
    async fn free_names_get_numbered_suffixes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(free_name(d, "slides.pdf").await.unwrap(), "slides.pdf");
        std::fs::write(d.join("slides.pdf"), b"").unwrap();
        assert_eq!(free_name(d, "slides.pdf").await.unwrap(), "slides-1.pdf");
        std::fs::write(d.join("slides-1.pdf"), b"").unwrap();
        assert_eq!(free_name(d, "slides.pdf").await.unwrap(), "slides-2.pdf");
        // A taken sidecar name counts as taken.
        std::fs::write(d.join("meta-notes"), b"").unwrap();
        assert_eq!(free_name(d, "notes").await.unwrap(), "notes-1");
        std::fs::write(d.join("x.tar.gz"), b"").unwrap();
        assert_eq!(free_name(d, "x.tar.gz").await.unwrap(), "x.tar-1.gz");
    }
}
