//! The load scenario against Janus (the Debian `janus` package, its VideoRoom plugin over
//! its WebSocket API), with the same WebRTC client as against the gateway: for side-by-side
//! figures in the load tool (`cargo bench --bench loadtest -- --janus`). Not used by CI.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::load::{measure, LoadConfig, LoadReport};
use super::webrtc_peer::TestPeer;
use super::{rand_id, try_connect, Client};

/// A Janus process with the stock configuration of the package, gathering on `interface`.
pub struct Janus {
    child: Child,
    pub url: String,
}

impl Janus {
    pub fn start(interface: &str) -> Janus {
        let child = Command::new("janus")
            .args(["-F", "/etc/janus", "-E", interface, "-r", "30000-39999"])
            .stdin(Stdio::null())
            .stdout(
                std::fs::File::create(std::env::temp_dir().join("janus-load.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .stderr(Stdio::null())
            .spawn()
            .expect("janus (apt-get install janus)");
        // Its WebSocket transport listens on 8188 once it is up.
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect("127.0.0.1:8188").is_err() {
            assert!(Instant::now() < deadline, "janus did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Janus {
            child,
            url: "ws://127.0.0.1:8188".into(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Janus session on its own WebSocket.
struct Session {
    ws: Client,
    id: u64,
}

impl Session {
    async fn create(url: &str) -> Session {
        let ws = try_connect(url, Some("janus-protocol"), None)
            .await
            .expect("connect to janus");
        let mut ws = Client {
            ws,
            pending: Default::default(),
        };
        let r = ws.request(json!({"janus": "create"})).await;
        let id = r["data"]["id"].as_u64().expect("session id");
        Session { ws, id }
    }

    async fn attach(&mut self) -> u64 {
        let r = self
            .ws
            .request(json!({"janus": "attach", "session_id": self.id, "plugin": "janus.plugin.videoroom"}))
            .await;
        r["data"]["id"].as_u64().expect("handle id")
    }

    /// A plugin request; returns its answer (synchronous requests) or its event.
    async fn message(&mut self, handle: u64, body: Value, jsep: Option<Value>) -> Value {
        let t = format!("t-{}", rand_id());
        let mut m = json!({"janus": "message", "session_id": self.id, "handle_id": handle,
            "transaction": t, "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.ws.send(&m).await;
        self.ws
            .wait_for("janus answer", |v| {
                v["transaction"] == json!(t) && v["janus"] != "ack"
            })
            .await
    }

    async fn trickle(&mut self, handle: u64, peer: &TestPeer) {
        for (c, mid, idx) in peer.local_candidates().await {
            let m = json!({"janus": "trickle", "session_id": self.id, "handle_id": handle,
                "transaction": rand_id(),
                "candidate": {"candidate": c, "sdpMid": mid, "sdpMLineIndex": idx}});
            self.ws.send(&m).await;
        }
        let m = json!({"janus": "trickle", "session_id": self.id, "handle_id": handle,
            "transaction": rand_id(), "candidate": {"completed": true}});
        self.ws.send(&m).await;
    }
}

/// Runs the scenario against `janus`.
pub async fn run(janus: &Janus, cfg: &LoadConfig) -> LoadReport {
    let pid = janus.pid();
    let mut rooms = Vec::new();
    let mut senders = Vec::new();
    let mut keep = Vec::new();
    for r in 0..cfg.rooms {
        let mut s = Session::create(&janus.url).await;
        let h = s.attach().await;
        let room = 100_000 + r as u64 + (rand::random::<u32>() as u64 % 1_000_000) * 10;
        let created = s
            .message(
                h,
                json!({"request": "create", "room": room, "publishers": 16,
                "videocodec": "vp8", "audiocodec": "opus", "bitrate": 0}),
                None,
            )
            .await;
        assert_eq!(
            created["plugindata"]["data"]["videoroom"], "created",
            "{created}"
        );
        let publisher = TestPeer::publisher().await.unwrap();
        let offer = publisher.create_offer().await.unwrap();
        let joined = s
            .message(
                h,
                json!({"request": "joinandconfigure", "room": room, "ptype": "publisher",
                    "display": "pub", "audio": true, "video": true}),
                Some(json!({"type": "offer", "sdp": offer})),
            )
            .await;
        let feed = joined["plugindata"]["data"]["id"]
            .as_u64()
            .expect("publisher id");
        publisher
            .set_remote_answer(joined["jsep"]["sdp"].as_str().expect("answer"))
            .await
            .unwrap();
        s.trickle(h, &publisher).await;
        publisher
            .wait_connected(Duration::from_secs(15))
            .await
            .unwrap();
        senders.push(
            publisher
                .start_sending_at(cfg.video_interval, cfg.video_size)
                .await
                .unwrap(),
        );
        rooms.push((room, feed));
        keep.push((s, publisher));
    }
    let rss_before = super::load::rss(pid);
    let mut tasks = Vec::new();
    for &(room, feed) in &rooms {
        let viewers = cfg.viewers.clamp(1, cfg.subscribers.max(1));
        for v in 0..viewers {
            let share = cfg.subscribers / viewers + usize::from(v < cfg.subscribers % viewers);
            let url = janus.url.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = Session::create(&url).await;
                let mut subs = Vec::new();
                for _ in 0..share {
                    let h = s.attach().await;
                    let started = Instant::now();
                    let attached = s
                        .message(
                            h,
                            json!({"request": "join", "room": room, "ptype": "subscriber",
                                "streams": [{"feed": feed}]}),
                            None,
                        )
                        .await;
                    let sub = TestPeer::subscriber().await.unwrap();
                    sub.count_only();
                    let answer = sub
                        .answer_now(attached["jsep"]["sdp"].as_str().expect("offer"))
                        .await
                        .unwrap();
                    s.message(
                        h,
                        json!({"request": "start"}),
                        Some(json!({"type": "answer", "sdp": answer})),
                    )
                    .await;
                    s.trickle(h, &sub).await;
                    subs.push((sub, started));
                }
                (s, subs)
            }));
        }
    }
    let mut sessions = Vec::new();
    let mut subs = Vec::new();
    for t in tasks {
        let (s, got) = t.await.unwrap();
        sessions.push(s);
        subs.extend(got);
    }
    let report = measure(pid, &subs, &senders, rss_before, cfg).await;
    for (s, _) in &subs {
        let _ = s.close().await;
    }
    drop(senders);
    drop(sessions);
    drop(keep);
    report
}
