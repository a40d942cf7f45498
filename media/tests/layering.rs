//! The media crate's parts import each other one way (engine -> core -> transport, router,
//! bridge -> the leaves), and only the engine shell knows tokio: a core stays sans-IO.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The part a source file belongs to: `core`, `router`, ... (`lib` for files at the root).
fn part(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn only_the_engine_knows_tokio_and_no_part_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    // What each part may use of the crate.
    let allowed: &[(&str, &[&str])] = &[
        ("ids", &[]),
        ("outbox", &["ids"]),
        ("rtp", &[]),
        ("router", &["ids"]),
        ("mix", &["ids"]),
        ("bridge", &["ids", "rtp", "router", "mix"]),
        (
            "transport",
            &["ids", "outbox", "rtp", "bridge", "MediaError"],
        ),
        (
            "core",
            &[
                "ids",
                "outbox",
                "rtp",
                "router",
                "mix",
                "bridge",
                "transport",
                "MediaError",
            ],
        ),
    ];
    let mut checked = 0;
    for file in &files {
        let part = part(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        if part != "engine" && part != "lib" {
            assert!(
                !text.contains("tokio"),
                "{} (part `{part}`) mentions tokio: only the engine shell may",
                file.display()
            );
        }
        let Some((_, may)) = allowed.iter().find(|(p, _)| *p == part) else {
            continue;
        };
        checked += 1;
        for line in text.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("use crate::").or_else(|| {
                line.split("crate::")
                    .nth(1)
                    .filter(|_| !line.starts_with("//"))
            }) else {
                continue;
            };
            let target: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if target.is_empty() || target == part {
                continue;
            }
            assert!(
                may.contains(&target.as_str()),
                "{}: part `{part}` uses `crate::{target}` ({line})",
                file.display()
            );
        }
    }
    assert!(checked >= 15, "only {checked} files checked");
}
