//! Replays every file of the fuzz corpora (`tests/fuzz/corpus/<target>/`) through the target
//! bodies the fuzzer runs (`tests/fuzz/targets.rs`): inputs that once crashed stay fixed, and
//! the corpus keeps covering the parsers in every `tests/run.sh`. The fuzzing itself (nightly,
//! cargo-fuzz) runs outside CI: see tests/fuzz/README.md.
#[path = "fuzz/targets.rs"]
mod targets;

use std::path::Path;

fn replay(target: &str) {
    let (_, run) = targets::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let done = std::panic::catch_unwind(|| run(&data));
        assert!(done.is_ok(), "{target}: {} crashes", file.display());
    }
    println!("{target}: {} inputs replayed", files.len());
}

#[test]
fn sylkrtc_request_corpus() {
    replay("sylkrtc_request");
}

#[test]
fn sip_message_corpus() {
    replay("sip_message");
}

#[test]
fn sdp_plain_corpus() {
    replay("sdp_plain");
}

#[test]
fn sdp_browser_corpus() {
    replay("sdp_browser");
}

#[test]
fn media_demux_corpus() {
    replay("media_demux");
}

#[test]
fn sfu_datagram_corpus() {
    replay("sfu_datagram");
}

#[test]
fn http_request_corpus() {
    replay("http_request");
}
