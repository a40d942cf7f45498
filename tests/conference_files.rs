//! Conference file sharing over HTTP (§5.1 "filesharing", §3.4 `file-sharing`) against the real
//! binary: upload and download, the `file-sharing` events, the list a joiner gets, access
//! rules, filename sanitising and collisions, path escapes, CORS, the size limit, and cleanup
//! when the room empties. Joins use a real SDP offer; no media needs to flow.
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::webrtc_peer::TestPeer;
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROOM: &str = "room1@videoconference.example.com";

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over a TcpStream.

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn assert_cors(&self) {
        assert_eq!(
            self.header("access-control-allow-origin"),
            Some("*"),
            "CORS origin header missing ({})",
            self.status
        );
        assert_eq!(
            self.header("access-control-allow-headers"),
            Some("content-type"),
            "CORS headers header missing ({})",
            self.status
        );
    }
}

/// Sends `request` as is, then reads the response until the server closes the connection.
async fn raw(gw: &Gateway, request: &[u8]) -> HttpResponse {
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("response in time")
        .expect("read the response");
    parse(&out)
}

/// One request with `Connection: close` (and `Content-Length` when there is a body).
async fn http(gw: &Gateway, method: &str, path: &str, body: Option<&[u8]>) -> HttpResponse {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/octet-stream\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    raw(gw, &bytes).await
}

fn parse(raw: &[u8]) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    let r = HttpResponse {
        status,
        headers,
        body,
    };
    if let Some(len) = r.header("content-length") {
        assert_eq!(len.parse::<usize>().unwrap(), r.body.len(), "body length");
    }
    r
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&data[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn path(room: &str, session: &str, filename: &str) -> String {
    format!("/webrtcgateway/filesharing/{room}/{session}/{filename}")
}

// ---------------------------------------------------------------------------------------------
// Room members.

struct Member {
    ws: Client,
    session: String,
    account: String,
    _publisher: TestPeer,
}

fn ack(m: &Value) {
    assert_eq!(m["sylkrtc"], "ack", "expected an ack, got {m}");
}

/// Starts a gateway whose unconnected publishers are not timed out during a test.
fn gateway(extra: &[&str]) -> Gateway {
    let mut args = vec!["--ice-consent-timeout", "600"];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

/// Adds `user@example.com` (display name `user`) and joins `room`; returns the member and
/// the events that followed the ack of the join, up to `initial-publishers` included plus
/// whatever arrives within a short while after it.
async fn join_room(gw: &Gateway, user: &str, room: &str) -> (Member, Vec<Value>) {
    let mut ws = gw.ready_client().await;
    let account = format!("{user}@example.com");
    ack(&ws
        .request(json!({"sylkrtc": "account-add", "account": account, "password": HA1, "display_name": user}))
        .await);
    let publisher = TestPeer::publisher().await.unwrap();
    let offer = publisher.create_offer().await.unwrap();
    let session = format!("s-{}", rand_id());
    let m = ws
        .request(json!({"sylkrtc": "videoroom-join", "session": session, "account": account, "uri": room, "sdp": offer}))
        .await;
    ack(&m);
    let progress = ws.pending.pop_front().expect("progress before the ack");
    assert_eq!(progress["state"], "progress");
    assert!(ws.pending.is_empty(), "{:?}", ws.pending);
    // Everything the join queued after its ack comes at once.
    let mut after = Vec::new();
    while let Some(m) = ws.recv_within(Duration::from_millis(500)).await {
        assert_eq!(m["session"], json!(session), "{m}");
        after.push(m);
    }
    (
        Member {
            ws,
            session,
            account,
            _publisher: publisher,
        },
        after,
    )
}

async fn join(gw: &Gateway, user: &str) -> Member {
    join_room(gw, user, ROOM).await.0
}

fn events(after: &[Value]) -> Vec<String> {
    after
        .iter()
        .map(|m| match m["event"].as_str().unwrap() {
            "session-state" => format!("session-state/{}", m["state"].as_str().unwrap()),
            e => e.to_string(),
        })
        .collect()
}

async fn upload(gw: &Gateway, m: &Member, filename: &str, body: &[u8]) -> HttpResponse {
    http(gw, "POST", &path(ROOM, &m.session, filename), Some(body)).await
}

async fn upload_ok(gw: &Gateway, m: &Member, filename: &str, body: &[u8]) {
    let r = upload(gw, m, filename, body).await;
    assert_eq!(r.status, 200, "upload of {filename}: {}", r.text());
    assert_eq!(r.text(), "OK");
}

/// The `file-sharing` event of a member (skipping other events), its files.
async fn file_event(m: &mut Member) -> Vec<Value> {
    let session = m.session.clone();
    let e = m.ws.room_event(&session, "file-sharing", None).await;
    e["files"].as_array().unwrap().clone()
}

fn room_dir(gw: &Gateway, room: &str) -> PathBuf {
    gw.data_dir.join("filesharing").join(room)
}

/// Every file (not folder) under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn binary_body() -> Vec<u8> {
    // Every byte value, many times, and a length that is no multiple of any buffer size.
    (0..300_001u32).map(|i| (i % 256) as u8).collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_download_round_trip_and_event_to_every_session() {
    let gw = gateway(&[]);
    let mut alice = join(&gw, "alice").await;
    let mut bob = join(&gw, "bob").await;

    let body = binary_body();
    let r = upload(&gw, &alice, "data.bin", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "OK");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    r.assert_cors();

    let want = json!([{
        "filename": "data.bin",
        "filesize": body.len(),
        "uploader": {"uri": "alice@example.com", "display_name": "alice"},
        "session": alice.session,
    }]);
    for m in [&mut alice, &mut bob] {
        let files = file_event(m).await;
        assert_eq!(Value::Array(files), want, "file-sharing to {}", m.account);
    }

    // Stored with its sidecar, the upload folder left empty.
    let dir = room_dir(&gw, ROOM);
    assert_eq!(names(&dir), ["data.bin", "meta-data.bin"]);
    assert_eq!(std::fs::read(dir.join("data.bin")).unwrap(), body);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta-data.bin")).unwrap()).unwrap();
    assert_eq!(meta, want[0]);
    assert!(names(&gw.data_dir.join("filesharing").join(".uploads")).is_empty());

    // Any room session downloads it, byte for byte.
    for m in [&bob, &alice] {
        let r = http(&gw, "GET", &path(ROOM, &m.session, "data.bin"), None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.assert_cors();
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment;filename=\"data.bin\"")
        );
        assert_eq!(r.body, body);
    }

    // An empty file is a file too.
    upload_ok(&gw, &bob, "empty.txt", b"").await;
    assert_eq!(file_event(&mut alice).await[0]["filesize"], 0);
    let r = http(&gw, "GET", &path(ROOM, &alice.session, "empty.txt"), None).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_gets_the_full_list_between_configure_and_raised_hands() {
    let gw = gateway(&[]);
    let (mut alice, after) = join_room(&gw, "alice", ROOM).await;
    // The first joiner of a room without files gets no file-sharing.
    assert_eq!(
        events(&after),
        ["session-state/accepted", "initial-publishers"]
    );
    let s = alice.session.clone();
    ack(&alice
        .ws
        .request(
            json!({"sylkrtc": "videoroom-configure", "session": s, "active_participants": [s]}),
        )
        .await);
    ack(&alice
        .ws
        .request(json!({"sylkrtc": "videoroom-toggle-hand", "session": s}))
        .await);
    upload_ok(&gw, &alice, "slides.pdf", b"%PDF-1.4 first").await;
    upload_ok(&gw, &alice, "notes.txt", b"second").await;

    let (_carol, after) = join_room(&gw, "carol", ROOM).await;
    assert_eq!(
        events(&after),
        [
            "session-state/accepted",
            "initial-publishers",
            "configure",
            "file-sharing",
            "raised-hands"
        ]
    );
    let files = &after[3]["files"];
    assert_eq!(
        files,
        &json!([
            {"filename": "slides.pdf", "filesize": 14, "uploader": {"uri": "alice@example.com", "display_name": "alice"}, "session": s},
            {"filename": "notes.txt", "filesize": 6, "uploader": {"uri": "alice@example.com", "display_name": "alice"}, "session": s},
        ])
    );
    assert_eq!(after[2]["active_participants"], json!([s]));
    assert_eq!(after[4]["raised_hands"], json!([s]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_needs_a_session_of_an_active_room() {
    let gw = gateway(&[]);
    let alice = join(&gw, "alice").await;
    let (other, _) = join_room(&gw, "olga", "other@videoconference.example.com").await;
    upload_ok(&gw, &alice, "a.txt", b"hello").await;

    let denied = [
        // no such room
        path("nosuchroom@example.com", &alice.session, "a.txt"),
        // no such session
        path(ROOM, "not-a-session", "a.txt"),
        // a session of another room
        path(ROOM, &other.session, "a.txt"),
    ];
    for p in &denied {
        for method in ["GET", "POST", "OPTIONS"] {
            let body = (method == "POST").then_some(&b"x"[..]);
            let r = http(&gw, method, p, body).await;
            assert_eq!(r.status, 403, "{method} {p}: {}", r.text());
            r.assert_cors();
        }
    }
    // Nothing was stored for the refused uploads.
    assert_eq!(names(&room_dir(&gw, ROOM)), ["a.txt", "meta-a.txt"]);
    assert!(!room_dir(&gw, "other@videoconference.example.com").exists());
    assert!(!room_dir(&gw, "nosuchroom@example.com").exists());

    // The room of the path is lower-cased.
    let upper = ROOM.to_uppercase();
    let r = http(&gw, "GET", &path(&upper, &alice.session, "a.txt"), None).await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));

    // A missing file: 404 (also for a file of another room and a sidecar).
    for name in ["missing.txt", "meta-a.txt", "A.TXT"] {
        let r = http(&gw, "GET", &path(ROOM, &alice.session, name), None).await;
        assert_eq!(r.status, 404, "{name}");
        r.assert_cors();
    }
    let r = http(
        &gw,
        "GET",
        &path("other@videoconference.example.com", &other.session, "a.txt"),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collisions_get_numbered_suffixes_and_names_are_sanitised() {
    let gw = gateway(&[]);
    let mut alice = join(&gw, "alice").await;
    for (name, want, content) in [
        ("slides.pdf", "slides.pdf", "1"),
        ("slides.pdf", "slides-1.pdf", "2"),
        ("slides.pdf", "slides-2.pdf", "3"),
        ("archive.tar.gz", "archive.tar.gz", "4"),
        ("archive.tar.gz", "archive.tar-1.gz", "5"),
        ("README", "README", "6"),
        ("README", "README-1", "7"),
        // An uploaded "meta-x.txt" is never overwritten by the sidecar of a later "x.txt".
        ("meta-x.txt", "meta-x.txt", "8"),
        ("x.txt", "x-1.txt", "9"),
        // werkzeug's secure_filename
        ("My%20cool%20movie.mov", "My_cool_movie.mov", "10"),
        (
            "i%20contain%20cool%20%C3%BCml%C3%A4uts.txt",
            "i_contain_cool_umlauts.txt",
            "11",
        ),
        ("%E2%80%83.hidden%09name_.", "hidden_name", "12"),
        ("a%5Cb%3B%26c.txt", "abc.txt", "13"),
    ] {
        upload_ok(&gw, &alice, name, content.as_bytes()).await;
        let files = file_event(&mut alice).await;
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["filename"], want, "upload of {name}");
        let r = http(&gw, "GET", &path(ROOM, &alice.session, want), None).await;
        assert_eq!((r.status, r.text()), (200, content.to_string()), "{want}");
    }
    let dir = room_dir(&gw, ROOM);
    assert_eq!(std::fs::read(dir.join("meta-x.txt")).unwrap(), b"8");
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta-x-1.txt")).unwrap()).unwrap();
    assert_eq!(meta["filename"], "x-1.txt");

    // A name that sanitises to nothing is refused and stores nothing.
    let before = names(&dir);
    for name in ["%2e%2e", "..", "%E6%97%A5%E6%9C%AC", "._"] {
        let r = upload(&gw, &alice, name, b"x").await;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        r.assert_cors();
    }
    // Too long for a file system once suffixed.
    let r = upload(&gw, &alice, &"n".repeat(300), b"x").await;
    assert_eq!(r.status, 400);
    assert_eq!(names(&dir), before);
    alice.ws.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_escapes_stay_inside_the_room_folder() {
    // The files folder sits deep inside the data dir, so any escape would land in the data dir.
    let data = tempfile::tempdir().unwrap();
    let files = data.path().join("a").join("b").join("files");
    let gw = Gateway::start_with(
        &[
            "--no-tls",
            "--ice-consent-timeout",
            "600",
            "--filesharing-dir",
            files.to_str().unwrap(),
        ],
        Some(data.path().to_path_buf()),
        &[],
    );
    let mut alice = join(&gw, "alice").await;
    let s = alice.session.clone();

    // Escapes in the filename are flattened into a name inside the room folder.
    for (name, want) in [
        ("..%2f..%2f..%2fescaped-1", "escaped-1"),
        ("%2e%2e%2f%2e%2e%2fescaped-2", "escaped-2"),
        ("%2fabsolute-escape", "absolute-escape"),
        ("..%5c..%5cescaped-3", "escaped-3"),
    ] {
        upload_ok(&gw, &alice, name, b"inside").await;
        assert_eq!(file_event(&mut alice).await[0]["filename"], want, "{name}");
    }
    // Downloads of escaping names find nothing (the names are not files of the room).
    for name in [
        "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e",
        "%2e%2e%2f%2e%2e%2fa%2fb%2ffiles%2f.uploads",
        "%2fetc%2fpasswd",
    ] {
        let r = http(&gw, "GET", &path(ROOM, &s, name), None).await;
        assert_eq!(r.status, 404, "GET {name}: {}", r.text());
        r.assert_cors();
    }
    // Raw dot segments in the path are no filesharing path at all.
    for p in [
        format!("/webrtcgateway/filesharing/{ROOM}/{s}/../../../../escaped-4"),
        format!("/webrtcgateway/filesharing/../../../escaped-4/{s}/x"),
    ] {
        let r = http(&gw, "POST", &p, Some(b"outside")).await;
        assert!(matches!(r.status, 403 | 404), "POST {p}: {}", r.status);
    }
    // A room whose URI is a path (a SIP user part may hold `/`; `..` is a valid host): the
    // room exists, but its files cannot, and nothing is written anywhere.
    for (room, in_path) in [
        (
            "a/../../../../escaped-5@example.com",
            "a%2f..%2f..%2f..%2f..%2fescaped-5@example.com",
        ),
        ("..", "%2e%2e"),
    ] {
        let (m, after) = join_room(&gw, "eve", room).await;
        assert_eq!(events(&after)[0], "session-state/accepted", "join {room}");
        for method in ["POST", "GET", "OPTIONS"] {
            let body = (method == "POST").then_some(&b"outside"[..]);
            let r = http(&gw, method, &path(in_path, &m.session, "escaped-6"), body).await;
            assert_eq!(r.status, 403, "{method} in room {room}: {}", r.text());
            r.assert_cors();
        }
    }

    let room = files.join(ROOM);
    let mut want: Vec<PathBuf> = ["escaped-1", "escaped-2", "absolute-escape", "escaped-3"]
        .iter()
        .flat_map(|n| [room.join(n), room.join(format!("meta-{n}"))])
        .collect();
    want.sort();
    let written: Vec<PathBuf> = all_files(data.path())
        .into_iter()
        // The message store and the admin token live in the data directory too.
        .filter(|p| {
            !p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("storage.sqlite") || n == "admin.token"
            })
        })
        .collect();
    assert_eq!(written, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_answers_ok_with_cors_headers() {
    let gw = gateway(&[]);
    let alice = join(&gw, "alice").await;
    let req = format!(
        "OPTIONS {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nOrigin: https://app.example.com\r\n\
         Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
        path(ROOM, &alice.session, "slides.pdf")
    );
    let r = raw(&gw, req.as_bytes()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "OK");
    r.assert_cors();
    // Other methods are not allowed, with the CORS headers all the same.
    let r = http(&gw, "PUT", &path(ROOM, &alice.session, "x"), Some(b"x")).await;
    assert_eq!(r.status, 405);
    r.assert_cors();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_get_413() {
    let gw = gateway(&["--max-upload-size", "1000"]);
    let mut alice = join(&gw, "alice").await;
    let p = path(ROOM, &alice.session, "big.bin");

    // Refused on the declared length, before any of the body is sent.
    let r = raw(
        &gw,
        format!(
            "POST {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1001\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    r.assert_cors();

    // Chunked, no length given: refused once the body goes past the limit (the last chunk
    // is never sent).
    let mut req = format!(
        "POST {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(format!("{:x}\r\n", 600).as_bytes());
    req.extend_from_slice(&[b'a'; 600]);
    req.extend_from_slice(format!("\r\n{:x}\r\n", 600).as_bytes());
    req.extend_from_slice(&[b'b'; 600]);
    req.extend_from_slice(b"\r\n");
    let r = raw(&gw, &req).await;
    assert_eq!(r.status, 413, "{}", r.text());
    r.assert_cors();

    // Exactly the limit is fine, chunked too.
    let body = binary_body()[..1000].to_vec();
    upload_ok(&gw, &alice, "limit.bin", &body).await;
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
        path(ROOM, &alice.session, "chunked.bin")
    )
    .into_bytes();
    for part in body.chunks(300) {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = raw(&gw, &req).await;
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));

    assert_eq!(file_event(&mut alice).await[0]["filename"], "limit.bin");
    assert_eq!(file_event(&mut alice).await[0]["filename"], "chunked.bin");
    alice.ws.expect_silence(Duration::from_millis(300)).await;
    let dir = room_dir(&gw, ROOM);
    assert_eq!(
        names(&dir),
        [
            "chunked.bin",
            "limit.bin",
            "meta-chunked.bin",
            "meta-limit.bin"
        ]
    );
    assert_eq!(std::fs::read(dir.join("chunked.bin")).unwrap(), body);
    // The refused uploads left nothing behind.
    assert!(names(&gw.data_dir.join("filesharing").join(".uploads")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_files_are_removed_when_the_room_empties() {
    let gw = gateway(&[]);
    let mut alice = join(&gw, "alice").await;
    let bob = join(&gw, "bob").await;
    upload_ok(&gw, &alice, "slides.pdf", b"slides").await;
    upload_ok(&gw, &bob, "notes.txt", b"notes").await;
    let dir = room_dir(&gw, ROOM);
    assert_eq!(names(&dir).len(), 4);

    // One leaves: the files stay.
    let s = alice.session.clone();
    ack(&alice
        .ws
        .request(json!({"sylkrtc": "videoroom-leave", "session": s}))
        .await);
    // The leave is done when it is acknowledged.
    assert_eq!(names(&dir).len(), 4);
    let r = http(&gw, "GET", &path(ROOM, &bob.session, "slides.pdf"), None).await;
    assert_eq!(r.status, 200);
    // The one who left has no access any more.
    let r = http(&gw, "GET", &path(ROOM, &s, "slides.pdf"), None).await;
    assert_eq!(r.status, 403);

    // The last one goes away (the connection closes): the room and its files are gone.
    let bob_session = bob.session.clone();
    drop(bob);
    let deadline = Instant::now() + WAIT;
    while dir.exists() {
        assert!(Instant::now() < deadline, "left: {:?}", names(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = http(&gw, "GET", &path(ROOM, &bob_session, "slides.pdf"), None).await;
    assert_eq!(r.status, 403);

    // A new room with the same URI starts without files.
    let (carol, after) = join_room(&gw, "carol", ROOM).await;
    assert_eq!(
        events(&after),
        ["session-state/accepted", "initial-publishers"]
    );
    let r = http(&gw, "GET", &path(ROOM, &carol.session, "slides.pdf"), None).await;
    assert_eq!(r.status, 404);
}

/// A `persistent` room (its settings): its shared files outlive it, on disk and in the list a
/// joiner gets when the room starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_rooms_files_outlive_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    std::fs::write(&config, format!("[rooms.\"{ROOM}\"]\npersistent = true\n")).unwrap();
    let gw = gateway(&["--config", config.to_str().unwrap()]);
    let mut alice = join(&gw, "alice").await;
    upload_ok(&gw, &alice, "agenda.txt", b"kept across meetings").await;
    assert_eq!(file_event(&mut alice).await[0]["filename"], "agenda.txt");
    drop(alice);
    gw.wait_log("persistent room: its shared files are kept");
    let kept = room_dir(&gw, ROOM);
    assert!(kept.join("agenda.txt").is_file() && kept.join("meta-agenda.txt").is_file());

    // The room starts again: the joiner is told of the kept file with the rest of its join.
    let (_bob, after) = join_room(&gw, "bob", ROOM).await;
    let files: Vec<&Value> = after
        .iter()
        .filter(|m| m["event"] == "file-sharing")
        .flat_map(|m| m["files"].as_array().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{after:?}");
    assert_eq!(files[0]["filename"], "agenda.txt");
    assert_eq!(files[0]["filesize"], 20);
    assert_eq!(files[0]["uploader"]["uri"], "alice@example.com");
}
