//! The subcommands that are not the gateway itself: `check-config`, and `status` / `kick`,
//! which call a running gateway's admin API ([`crate::admin`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::config::{Command, Config, KickTarget};

/// What `from_cli` does not check: that the files the settings name can be read.
pub fn check_config(config: &Config) -> anyhow::Result<()> {
    if let (Some(cert), Some(key)) = (&config.tls_certificate, &config.tls_private_key) {
        let cert_pem = std::fs::read(cert)
            .with_context(|| format!("tls_certificate: cannot read {}", cert.display()))?;
        let key_pem = std::fs::read(key)
            .with_context(|| format!("tls_private_key: cannot read {}", key.display()))?;
        if !String::from_utf8_lossy(&cert_pem).contains("-----BEGIN CERTIFICATE-----") {
            bail!(
                "tls_certificate: {} holds no PEM certificate",
                cert.display()
            );
        }
        if !String::from_utf8_lossy(&key_pem).contains("PRIVATE KEY-----") {
            bail!(
                "tls_private_key: {} holds no PEM private key",
                key.display()
            );
        }
    }
    if let Some(path) = &config.web_config {
        let text = std::fs::read(path)
            .with_context(|| format!("web_config: cannot read {}", path.display()))?;
        serde_json::from_slice::<serde_json::Value>(&text)
            .with_context(|| format!("web_config: {} is not JSON", path.display()))?;
    }
    if config.data_dir.exists() && !config.data_dir.is_dir() {
        bail!("data_dir: {} is not a directory", config.data_dir.display());
    }
    Ok(())
}

/// Runs `status` or `kick` against the admin API named by `config`; returns what to print.
pub fn admin_command(config: &Config, command: &Command) -> anyhow::Result<String> {
    let (method, path) = match command {
        Command::Status => ("GET", "/admin/status".to_string()),
        Command::Kick { target } => match target {
            KickTarget::Connection { id } => ("DELETE", format!("/admin/connections/{id}")),
            KickTarget::Participant { room, session } => (
                "DELETE",
                format!(
                    "/admin/rooms/{}/participants/{}",
                    encode(room),
                    encode(session)
                ),
            ),
            KickTarget::Call { session } => ("DELETE", format!("/admin/calls/{}", encode(session))),
        },
        Command::CheckConfig | Command::PrintConfig => bail!("not an admin API command"),
    };
    let token = crate::admin::read_token(config)
        .context("admin token")?
        .context("no admin token: set admin_token, or start the gateway once (it makes <data_dir>/admin.token)")?;
    let mut addr = config.admin_listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let (status, body) = request(addr, method, &path, &token)
        .with_context(|| format!("admin API at {addr} (admin_listen)"))?;
    if !(200..300).contains(&status) {
        bail!("{status}: {body}");
    }
    Ok(body)
}

/// Percent-encodes a path segment.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.1 request; returns the status and the body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(16 << 20).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("not an HTTP response")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// The body of a chunked response.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let (Some(chunk), Some(next)) = (after.get(..n), after.get(n..)) else {
            break;
        };
        if n == 0 {
            break;
        }
        out.push_str(chunk);
        rest = next.trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("room1@conf.example.com"), "room1@conf.example.com");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }
}
