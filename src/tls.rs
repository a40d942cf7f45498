//! The server certificate: the configured one, or a self-signed one generated on first start
//! into `<data_dir>/tls/` and reused on every later start (so browsers that accepted it once
//! keep accepting it).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;

/// Paths of the PEM certificate chain and private key to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// True when this start generated them.
    pub generated: bool,
}

pub fn generated_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Returns the certificate to serve, generating one if none is configured or kept.
pub fn certificate(cfg: &Config) -> anyhow::Result<CertPaths> {
    if let (Some(certificate), Some(private_key)) = (&cfg.tls_certificate, &cfg.tls_private_key) {
        for (name, p) in [
            ("tls_certificate", certificate),
            ("tls_private_key", private_key),
        ] {
            std::fs::metadata(p).with_context(|| format!("{name}: cannot read {}", p.display()))?;
        }
        return Ok(CertPaths {
            certificate: certificate.clone(),
            private_key: private_key.clone(),
            generated: false,
        });
    }
    let (certificate, private_key) = generated_paths(&cfg.data_dir);
    if certificate.exists() && private_key.exists() {
        return Ok(CertPaths {
            certificate,
            private_key,
            generated: false,
        });
    }
    generate(&certificate, &private_key)?;
    Ok(CertPaths {
        certificate,
        private_key,
        generated: true,
    })
}

fn generate(cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && !names.iter().any(|n| n == host) {
            names.push(host.to_string());
        }
    }
    let ck = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    let dir = cert_path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data_dir: cannot create {}", dir.display()))?;
    write_private(key_path, ck.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, ck.cert.pem())
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    Ok(())
}

/// Writes `data` to `path`, readable by this user only (a key, a token).
pub(crate) fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let first = certificate(&cfg).unwrap();
        assert!(first.generated);
        let pem = std::fs::read_to_string(&first.certificate).unwrap();
        assert!(pem.contains("BEGIN CERTIFICATE"));
        let second = certificate(&cfg).unwrap();
        assert!(!second.generated);
        assert_eq!(pem, std::fs::read_to_string(&second.certificate).unwrap());
    }

    #[test]
    fn configured_missing_file_is_named() {
        let cfg = Config {
            tls_certificate: Some("/nonexistent/cert.pem".into()),
            tls_private_key: Some("/nonexistent/key.pem".into()),
            ..Config::default()
        };
        let e = format!("{:#}", certificate(&cfg).unwrap_err());
        assert!(e.contains("tls_certificate"), "{e}");
    }
}
