//! The web application the binary serves at /webrtcgateway/, driven in two headless Chromium
//! browser contexts (tests/browser/app_test.js, playwright-core; fake camera and microphone):
//! sign in (the registration failure and its reason shown), join a meeting by name, see the
//! other participant's named tile with decoded video, chat, raise a hand seen on both pages,
//! share a file that both list and the other downloads intact, devices listed; a phone-sized
//! page used with the keyboard only; the gateway restarted under a page.
//! Screenshots of the final screens go to `target/test-output/web_app/`. Same network rule
//! as tests/browser_room.rs (a loopback-only namespace when the machine allows one).
mod common;

use std::process::Command;
use std::time::Duration;

use common::browser::*;
use common::Gateway;

#[test]
fn two_browsers_meet_chat_and_raise_a_hand_in_the_web_app() {
    meeting("chromium,chromium", "web_app");
}

/// The same meeting with bob in Firefox ESR (puppeteer-core over WebDriver BiDi).
#[test]
fn a_chromium_and_a_firefox_user_meet_in_the_web_app() {
    require_firefox(&peers_tools());
    meeting("chromium,firefox", "web_app_firefox");
}

/// The gateway as `cargo run --release` starts it, with no flag at all: HTTPS with the
/// certificate it generates, every socket on the wildcard address (WebSocket 10888, media
/// 10888/udp, SIP 5060), its own interface addresses advertised, `./data` for the store. In the
/// loopback-only namespace those ports are the namespace's own; without one, the listen port
/// is any and 127.0.0.1 is advertised, still on the wildcard address.
#[test]
fn the_zero_config_gateway_serves_a_working_meeting() {
    let sealed = seal_network().is_ok();
    let flags: &[&str] = if sealed {
        &["--zero-config"]
    } else {
        &[
            "--zero-config",
            "--listen",
            "0.0.0.0:0",
            "--sip-listen",
            "127.0.0.1:0",
            "--media-port",
            "0",
            "--advertise-ip",
            "127.0.0.1",
        ]
    };
    let gw = Gateway::start_with(flags, None, &[]);
    assert!(gw.tls && gw.addr.ip().is_unspecified(), "{}", gw.addr);
    assert!(gw.media_addr().ip().is_unspecified());
    assert!(gw.data_dir.join("data/tls/cert.pem").is_file());
    let base = format!("https://127.0.0.1:{}", gw.addr.port());
    check_meeting(&gw, &base, "chromium,chromium", "web_app_zero_config");
    assert!(gw.data_dir.join("data/storage.sqlite").is_file());
}

/// `/webrtcgateway/` loads with no console error, no failed request and nothing from another
/// host, with its icon and manifest; the client library is a package (its `package.json` has
/// the gateway's version and `exports`, its types are served) that a page of another origin
/// imports and connects with (tests/browser/library_test.js).
#[test]
fn the_first_page_is_clean_and_the_client_library_is_a_package() {
    loopback_only();
    let gw = Gateway::start(&[]);
    let base = format!("http://{}", gw.addr);
    let summary = run_driver("library_test.js", &base, "web_app_library", &[], || {
        format!("--- gateway (tail):\n{}", tail(&gw.log(), 40))
    });
    assert_eq!(
        summary["console_errors"],
        serde_json::json!([]),
        "{summary}"
    );
    assert_eq!(summary["external"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["icon"]["status"], 200, "{summary}");
    assert_eq!(summary["icon"]["type"], "image/svg+xml", "{summary}");
    assert_eq!(
        summary["manifest"]["start_url"], "/webrtcgateway/",
        "{summary}"
    );
    let package = &summary["package"];
    assert_eq!(package["name"], "sylkrtc-gateway", "{summary}");
    assert_eq!(package["version"], env!("CARGO_PKG_VERSION"), "{summary}");
    assert_eq!(
        package["exports"]["."]["default"], "./sylkrtc.js",
        "{summary}"
    );
    assert_eq!(
        package["exports"]["."]["types"], "./sylkrtc.d.ts",
        "{summary}"
    );
    let library = &summary["library"];
    assert_eq!(library["cors"], "*", "{summary}");
    assert_eq!(library["types_status"], 200, "{summary}");
    assert_eq!(library["types_cors"], "*", "{summary}");
    assert_eq!(library["types_declare_connection"], true, "{summary}");
    assert_eq!(summary["imported"]["state"], "ready", "{summary}");
    assert_eq!(
        summary["imported"]["exports"],
        serde_json::json!(["Account", "Call", "Connection", "Room", "md5"]),
        "{summary}"
    );
}

/// axe-core finds no violation of impact serious or critical on the sign-in, home (calls and
/// conversations), chat and meeting screens, in the dark and the light theme (tests/browser/a11y_test.js; the in-call and
/// incoming-call screens are checked in tests/sip_web_app.rs).
#[test]
fn the_main_screens_pass_axe_core() {
    loopback_only();
    let gw = Gateway::start(&[]);
    let base = format!("http://{}", gw.addr);
    let summary = run_driver("a11y_test.js", &base, "web_app_a11y", &[], || {
        format!("--- gateway (tail):\n{}", tail(&gw.log(), 40))
    });
    // The light theme is a theme of its own, not the dark one.
    assert_ne!(
        summary["dark_background"], summary["light_background"],
        "{summary}"
    );
    // A browser set to Dutch gets every marked text from the Dutch catalogue.
    for screen in ["nl_signin", "nl_home"] {
        let nl = &summary[screen];
        assert_eq!(nl["lang"], "nl", "{summary}");
        assert_eq!(nl["missing"], serde_json::json!([]), "{summary}");
        assert_eq!(nl["wrong"], serde_json::json!([]), "{summary}");
        assert_eq!(nl["title"], "Aanmelden", "{summary}");
    }
    assert!(
        summary["nl_home"]["registration"]
            .as_str()
            .is_some_and(|r| r.starts_with("Registratie mislukt") || r == "registreren"),
        "{summary}"
    );
    for screen in [
        "nl-signin",
        "nl-home",
        "dark-signin",
        "dark-home",
        "dark-chat",
        "dark-meeting",
        "light-signin",
        "light-home",
        "light-chat",
        "light-meeting",
    ] {
        let serious: Vec<&serde_json::Value> = summary["screens"][screen]
            .as_array()
            .unwrap_or_else(|| panic!("no audit of {screen}: {summary}"))
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(serious.is_empty(), "{screen}: {serious:?}");
    }
}

/// `src/web/sylkrtc.d.ts` is what `tsc` makes of the library's JSDoc now: regenerate it with
/// the command in the assertion when the library changes.
#[test]
fn the_client_library_types_are_generated_from_its_jsdoc() {
    let tsc = peers_tools().join("node_modules/.bin/tsc");
    assert!(tsc.is_file(), "{} missing: run tests/run.sh", tsc.display());
    let out = tempfile::tempdir().unwrap();
    let args = [
        "src/web/sylkrtc.js",
        "--allowJs",
        "--declaration",
        "--emitDeclarationOnly",
        "--target",
        "es2022",
        "--module",
        "es2022",
        "--lib",
        "es2022,dom",
        "--skipLibCheck",
        "--outDir",
    ];
    let status = Command::new(&tsc)
        .current_dir(repo())
        .args(args)
        .arg(out.path())
        .status()
        .expect("tsc");
    assert!(status.success());
    let made = std::fs::read_to_string(out.path().join("sylkrtc.d.ts")).unwrap();
    let committed = std::fs::read_to_string(repo().join("src/web/sylkrtc.d.ts")).unwrap();
    assert!(
        made == committed,
        "src/web/sylkrtc.d.ts is stale: regenerate it with\n  {} {} <dir> && cp <dir>/sylkrtc.d.ts src/web/",
        tsc.display(),
        args.join(" ")
    );
}

fn meeting(browsers: &str, shots: &str) {
    loopback_only();
    let gw = Gateway::start(&[]);
    let base = format!("http://{}", gw.addr);
    check_meeting(&gw, &base, browsers, shots);
}

/// Two users meet in the web app at `base`, and everything of the meeting works.
fn check_meeting(gw: &Gateway, base: &str, browsers: &str, shots: &str) {
    let env = [
        ("BROWSERS", browsers.to_string()),
        ("FIREFOX", firefox().display().to_string()),
    ];
    let summary = run_driver("app_test.js", base, shots, &env, || {
        format!("--- gateway (tail):\n{}", tail(&gw.log(), 80))
    });
    assert_eq!(summary["hand_label"], "Lower hand", "{summary}");
    assert!(
        summary["people"].to_string().contains("hand raised"),
        "{summary}"
    );
    if browsers.starts_with("chromium") {
        assert!(
            summary["people_muted"].to_string().contains("muted"),
            "{summary}"
        );
    }
    if browsers == "chromium,chromium" {
        // Screen sharing: bob decoded alice's screen (a 16:9 capture, in a large tile).
        assert!(
            summary["screen"]
                .as_array()
                .is_some_and(|t| !t.is_empty() && t[0]["width"].as_u64().unwrap_or(0) >= 640),
            "{summary}"
        );
        assert_eq!(summary["screen_button"], "Stop sharing", "{summary}");
        // The camera previewed before joining; an audio-only join publishes no video.
        assert!(
            summary["preview_width"].as_u64().unwrap_or(0) > 0,
            "{summary}"
        );
        assert_eq!(summary["audio_only"]["preview_stopped"], true, "{summary}");
        assert_eq!(
            summary["audio_only"]["layers"],
            serde_json::json!([]),
            "{summary}"
        );
        assert_eq!(summary["audio_only"]["at_alice"]["width"], 0, "{summary}");
        let link = summary["meeting_link"].as_str().unwrap_or_default();
        assert!(
            link.ends_with("/webrtcgateway/conference/standup%40videoconference.example.com"),
            "{summary}"
        );
        assert_eq!(
            summary["link_room"], "standup@videoconference.example.com",
            "{summary}"
        );
        // A third user's page: the spotlighted feed in a larger layer than the small tile's.
        let widths: Vec<(String, u64)> = summary["layers_by_tile"]
            .as_array()
            .expect("layers by tile")
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap_or("").to_string(),
                    t["width"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let width = |n: &str| widths.iter().find(|(name, _)| name == n).map_or(0, |w| w.1);
        assert!(
            width("Bob") > width("Alice") && width("Alice") > 0,
            "{summary}"
        );
        // Her grid view asks every feed at one rate; the spotlight again, different ones.
        assert_eq!(summary["grid_class"], true, "{summary}");
        let rates = summary["grid_rates"].as_array().expect("grid rates");
        assert!(
            rates.len() >= 2 && rates.iter().all(|r| r == &rates[0]),
            "{summary}"
        );
    }
    assert_eq!(summary["download_matches"], true, "{summary}");
    assert_eq!(
        summary["external_requests"],
        serde_json::json!([]),
        "{summary}"
    );
    assert!(summary["requests"].as_u64().unwrap() >= 5, "{summary}");
    for device in ["camera", "microphone"] {
        assert!(
            summary["devices"][device].as_u64().unwrap() >= 1,
            "{summary}"
        );
    }
    for user in ["alice", "bob"] {
        let reg = summary["users"][user]["registration"].as_str().unwrap();
        assert!(
            reg.starts_with("Registration failed: DNS lookup error"),
            "{reg}"
        );
    }
    let shots = repo().join("target/test-output").join(shots);
    assert!(shots.join("alice-meeting.png").is_file());
    assert!(shots.join("bob-meeting.png").is_file());
}

#[test]
fn the_web_app_reconnects_when_the_gateway_comes_back() {
    require_peers(&peers_tools(), &chromium());
    let dir = tempfile::tempdir().unwrap();
    let signals = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start_with(&["--no-tls"], Some(dir.path().to_path_buf()), &[]);
    let listen = gw.addr.to_string();
    let shots = repo().join("target/test-output/web_app_reconnect");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.current_dir(repo())
        .arg(repo().join("tests/browser/app_reconnect_test.js"))
        .arg(format!("http://{listen}"))
        .env("NODE_PATH", peers_tools().join("node_modules"))
        .env("CHROMIUM", chromium())
        .env("SIGNAL_DIR", signals.path())
        .env("SHOT_DIR", &shots);
    let browser = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(90)));
    let wait_for = |name: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !signals.path().join(name).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the page never wrote {name}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("signed-in");
    gw.stop();
    wait_for("reconnecting");
    let gw = Gateway::start_with(
        &["--no-tls", "--listen", &listen],
        Some(dir.path().to_path_buf()),
        &[],
    );
    let (ok, stdout, stderr) = browser.join().unwrap();
    assert!(
        ok,
        "reconnect test failed\n--- node stderr:\n{}\n--- node stdout:\n{stdout}\n--- gateway (tail):\n{}",
        tail(&stderr, 60),
        tail(&gw.log(), 60)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("node printed JSON");
    assert_eq!(
        summary["banner"], "Connection lost, reconnecting…",
        "{summary}"
    );
    assert!(
        summary["registration_again"]
            .as_str()
            .unwrap()
            .starts_with("Registration failed: DNS lookup error"),
        "{summary}"
    );
}

#[test]
fn the_web_app_works_on_a_phone_sized_screen_with_the_keyboard_only() {
    loopback_only();
    let branding = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        branding.path(),
        r##"{"title": "Acme Talk", "colors": {"primary": "#b60205"}, "default_room_domain": "rooms.example.org"}"##,
    )
    .unwrap();
    let config = branding.path().display().to_string();
    let gw = Gateway::start(&["--web-config", &config]);
    let base = format!("http://{}", gw.addr);
    let summary = run_driver("app_phone_test.js", &base, "web_app_phone", &[], || {
        format!("--- gateway (tail):\n{}", tail(&gw.log(), 60))
    });
    assert_eq!(
        summary["branding"],
        serde_json::json!({"title": "Acme Talk", "header": "Acme Talk", "room": "mobile@rooms.example.org"}),
        "{summary}"
    );
    assert!(
        summary["denied"]
            .as_str()
            .unwrap()
            .starts_with("No camera or microphone permission"),
        "{summary}"
    );
    assert!(repo()
        .join("target/test-output/web_app_phone/phone-meeting.png")
        .is_file());
}
