//! The Debian package: `cargo deb` builds it (from the binary these tests run), it installs
//! into a throwaway root with dpkg (maintainer scripts included, the unit enabled there), the
//! installed binary accepts the installed configuration, the unit passes `systemd-analyze
//! verify`, and it purges cleanly. The sample configuration names every setting.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_sample_configuration_names_every_setting_and_is_valid() {
    let sample = std::fs::read_to_string(repo().join("packaging/config.toml")).unwrap();
    let (ok, printed) = run(Command::new(env!("CARGO_BIN_EXE_sylk-gateway")).arg("print-config"));
    assert!(ok, "{printed}");
    let lines: Vec<&str> = sample.lines().map(str::trim).collect();
    for key in printed
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
    {
        let named = lines
            .iter()
            .any(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} = ")));
        assert!(
            named,
            "packaging/config.toml does not name {key} (packaging/make-config.py writes it)"
        );
    }
    // Settings without a default (print-config leaves them out) are there as examples.
    for key in [
        "tls_certificate",
        "media_listen",
        "public_url",
        "admin_token",
        "sip_proxy",
    ] {
        assert!(sample.contains(&format!("# {key} = ")), "{key}");
    }
    let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_sylk-gateway"))
        .args(["check-config", "--config"])
        .arg(repo().join("packaging/config.toml")));
    assert!(ok, "{out}");
}

/// `cargo deb` from the binary of this build (debug or release, whichever the tests use).
fn build_deb(out: &Path) {
    let bin = env!("CARGO_BIN_EXE_sylk-gateway");
    let profile = if bin.contains("/release/") {
        "release"
    } else {
        "dev"
    };
    let (ok, text) = run(Command::new("cargo")
        .current_dir(repo())
        .args(["deb", "--no-build", "--profile", profile, "-o"])
        .arg(out));
    assert!(
        ok,
        "cargo deb failed (tests/run.sh installs cargo-deb):\n{text}"
    );
}

#[test]
fn the_deb_builds_installs_verifies_and_purges() {
    let tmp = tempfile::tempdir().unwrap();
    let deb = tmp.path().join("sylk-gateway.deb");
    build_deb(&deb);

    let (ok, info) = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(ok, "{info}");
    for needle in [
        "Package: sylk-gateway",
        "Section: net",
        "postinst",
        "conffiles",
    ] {
        assert!(info.contains(needle), "{needle}:\n{info}");
    }

    // A throwaway root: dpkg runs the maintainer scripts outside a chroot with DPKG_ROOT set
    // (deb-systemd-helper enables the unit inside the root, never on this machine).
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let dpkg = |args: &[&str]| {
        run(Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args([
                "--force-script-chrootless",
                "--force-not-root",
                "--force-depends",
            ])
            .arg("--log=/dev/null")
            .args(args))
    };
    let (ok, out) = dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(ok, "dpkg -i:\n{out}");
    let bin = root.join("usr/bin/sylk-gateway");
    let config = root.join("etc/sylk-gateway/config.toml");
    let unit = root.join("usr/lib/systemd/system/sylk-gateway.service");
    for file in [&bin, &config, &unit] {
        assert!(file.is_file(), "{} not installed:\n{out}", file.display());
    }
    let conffiles =
        std::fs::read_to_string(root.join("var/lib/dpkg/info/sylk-gateway.conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/sylk-gateway/config.toml");
    assert!(
        root.join("var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/sylk-gateway.service")
            .exists(),
        "postinst did not enable the unit in the root"
    );

    // The installed binary takes the installed configuration.
    let (ok, out) = run(Command::new(&bin)
        .args(["check-config", "--config"])
        .arg(&config));
    assert!(ok && out.contains("configuration OK"), "{out}");
    let (ok, out) = run(Command::new(&bin)
        .args(["print-config", "--config"])
        .arg(&config));
    assert!(
        ok && out.contains("data_dir = \"/var/lib/sylk-gateway\""),
        "{out}"
    );

    // The unit as installed, with its binary where it is in the root.
    let text = std::fs::read_to_string(&unit).unwrap();
    for needle in [
        "DynamicUser=yes",
        "StateDirectory=sylk-gateway",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let checked = tmp.path().join("sylk-gateway.service");
    std::fs::write(
        &checked,
        text.replace("/usr/bin/sylk-gateway", bin.to_str().unwrap()),
    )
    .unwrap();
    let (ok, out) = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&checked));
    assert!(
        ok && out.trim().is_empty(),
        "systemd-analyze verify:\n{out}"
    );

    let (ok, out) = dpkg(&["--purge", "sylk-gateway"]);
    assert!(ok, "dpkg --purge:\n{out}");
    assert!(!bin.exists() && !config.exists(), "purge left files");
}
