//! What one client, one source or one room may cost: every bound the gateway puts on what the
//! network can make it hold or do. Each is a setting (TOML table `[limits]`, the repeatable
//! flag `--limit NAME=VALUE`, or `SYLK_LIMIT="NAME=VALUE,..."`), with a default that suits a
//! gateway on the internet; the README's Security section lists them.
//!
//! Each refusal is the protocol's own answer (an `error` reply with a text naming the limit,
//! an HTTP status, a SIP 403/486/503, a WebSocket close code) plus one log line.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Every limit, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// WebSocket connections at once, in total (more: HTTP 503 on the upgrade).
    pub max_connections: usize,
    /// WebSocket connections at once from one IP address (more: HTTP 429).
    pub max_connections_per_ip: usize,
    /// Seconds one write to a WebSocket may take before the client counts as too slow and is
    /// dropped (a client that stopped reading).
    pub websocket_write_timeout: f64,
    /// Seconds an HTTP client has to send its request headers before the connection is
    /// closed.
    pub http_header_timeout: f64,
    /// Accounts added on one connection.
    pub max_accounts_per_connection: usize,
    /// Calls (outgoing and incoming) of one connection at once; each binds at most two RTP
    /// ports (audio, video), so this also bounds its RTP ports. An incoming call beyond it
    /// gets 486 Busy Here.
    pub max_calls_per_connection: usize,
    /// Publisher sessions in rooms of one connection.
    pub max_room_sessions_per_connection: usize,
    /// Feeds (subscriptions) of one connection.
    pub max_feeds_per_connection: usize,
    /// Participants (publishers) of one room.
    pub max_room_participants: usize,
    /// Requests per second one connection may send on average (`ping` is exempt)...
    pub request_rate: f64,
    /// ...and how many it may send in a burst.
    pub request_burst: u32,
    /// `account-register` requests per minute of one connection (each sends a REGISTER).
    pub register_per_minute: u32,
    /// Room broadcasts (chat, composing, raised hands, mutes, configure) per second of one
    /// participant on average...
    pub room_broadcast_rate: f64,
    /// ...and in a burst.
    pub room_broadcast_burst: u32,
    /// Seconds a call may wait for its final answer (our INVITE: then CANCEL; an incoming
    /// call the browser does not answer: then 480) before its ports are released.
    pub call_setup_timeout: f64,
    /// DTMF digits in one `session-dtmf-info`.
    pub max_dtmf_digits: usize,
    /// Packets sent again for one NACK datagram.
    pub max_rtx_per_nack: usize,
    /// Packets sent again per second to one subscriber.
    pub rtx_per_second: u32,
    /// HTTP file uploads (conference sharing and 1:1 transfers) in progress at once.
    pub max_concurrent_uploads: usize,
    /// HTTP file uploads in progress at once from one IP address.
    pub max_concurrent_uploads_per_ip: usize,
    /// Bytes all stored files (conference sharing and 1:1 transfers) may take on disk; an
    /// upload that would go past it gets HTTP 507.
    pub upload_quota: u64,
    /// Bytes of JSON in one `sync-conversations` answer; a longer history is sent in pages
    /// (the client asks again from the last message it got, until an empty answer).
    pub sync_page_bytes: usize,
    /// SIP requests per second from one source address that is not trusted (the proxy and
    /// `sip_trusted_peers` are exempt); more get 503...
    pub sip_requests_per_second: f64,
    /// ...after this burst.
    pub sip_requests_burst: u32,
    /// SIP TCP connections at once from one source that is not trusted.
    pub sip_tcp_connections_per_source: usize,
    /// SIP TCP connections at once, in total.
    pub sip_tcp_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_connections_per_ip: 64,
            websocket_write_timeout: 10.0,
            http_header_timeout: 10.0,
            max_accounts_per_connection: 10,
            max_calls_per_connection: 4,
            max_room_sessions_per_connection: 4,
            max_feeds_per_connection: 256,
            max_room_participants: 50,
            request_rate: 50.0,
            request_burst: 200,
            register_per_minute: 12,
            room_broadcast_rate: 5.0,
            room_broadcast_burst: 20,
            call_setup_timeout: 180.0,
            max_dtmf_digits: 32,
            max_rtx_per_nack: 128,
            rtx_per_second: 200,
            max_concurrent_uploads: 16,
            max_concurrent_uploads_per_ip: 4,
            upload_quota: 10 * 1024 * 1024 * 1024,
            sync_page_bytes: 1024 * 1024,
            sip_requests_per_second: 20.0,
            sip_requests_burst: 50,
            sip_tcp_connections_per_source: 8,
            sip_tcp_connections: 1024,
        }
    }
}

impl Limits {
    /// Applies one `NAME=VALUE` override (the value as TOML: a number, or a string).
    pub fn set(&mut self, assignment: &str) -> anyhow::Result<()> {
        let Some((name, value)) = assignment.split_once('=') else {
            bail!("limit {assignment:?} must be NAME=VALUE");
        };
        let (name, value) = (name.trim(), value.trim());
        let mut table = toml::Table::try_from(&*self).context("limits")?;
        if !table.contains_key(name) {
            bail!("unknown limit {name:?}");
        }
        let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        table.insert(name.to_string(), parsed);
        *self = table
            .try_into()
            .map_err(|e| anyhow::anyhow!("limit {name}: {e}"))?;
        Ok(())
    }

    /// Checks values that parse but make no sense; the message names the limit.
    pub fn validate(&self) -> anyhow::Result<()> {
        let counts = [
            ("max_connections", self.max_connections),
            ("max_connections_per_ip", self.max_connections_per_ip),
            (
                "max_accounts_per_connection",
                self.max_accounts_per_connection,
            ),
            ("max_calls_per_connection", self.max_calls_per_connection),
            (
                "max_room_sessions_per_connection",
                self.max_room_sessions_per_connection,
            ),
            ("max_feeds_per_connection", self.max_feeds_per_connection),
            ("max_room_participants", self.max_room_participants),
            ("max_dtmf_digits", self.max_dtmf_digits),
            ("max_rtx_per_nack", self.max_rtx_per_nack),
            ("max_concurrent_uploads", self.max_concurrent_uploads),
            (
                "max_concurrent_uploads_per_ip",
                self.max_concurrent_uploads_per_ip,
            ),
            (
                "sip_tcp_connections_per_source",
                self.sip_tcp_connections_per_source,
            ),
            ("sip_tcp_connections", self.sip_tcp_connections),
        ];
        for (name, value) in counts {
            if !(1..=10_000_000).contains(&value) {
                bail!("limits.{name} must be between 1 and 10000000, got {value}");
            }
        }
        let bursts = [
            ("request_burst", self.request_burst),
            ("register_per_minute", self.register_per_minute),
            ("room_broadcast_burst", self.room_broadcast_burst),
            ("rtx_per_second", self.rtx_per_second),
            ("sip_requests_burst", self.sip_requests_burst),
        ];
        for (name, value) in bursts {
            if !(1..=10_000_000).contains(&value) {
                bail!("limits.{name} must be between 1 and 10000000, got {value}");
            }
        }
        let rates = [
            ("request_rate", self.request_rate),
            ("room_broadcast_rate", self.room_broadcast_rate),
            ("sip_requests_per_second", self.sip_requests_per_second),
        ];
        for (name, value) in rates {
            if !(value.is_finite() && (0.01..=1_000_000.0).contains(&value)) {
                bail!("limits.{name} must be between 0.01 and 1000000 per second, got {value}");
            }
        }
        let seconds = [
            (
                "websocket_write_timeout",
                self.websocket_write_timeout,
                30.0,
            ),
            ("http_header_timeout", self.http_header_timeout, 300.0),
            ("call_setup_timeout", self.call_setup_timeout, 3600.0),
        ];
        for (name, value, max) in seconds {
            if !(value.is_finite() && (0.1..=max).contains(&value)) {
                bail!("limits.{name} must be between 0.1 and {max} seconds, got {value}");
            }
        }
        if self.upload_quota == 0 {
            bail!("limits.upload_quota must be at least 1 byte");
        }
        if !(4096..=256 * 1024 * 1024).contains(&self.sync_page_bytes) {
            bail!(
                "limits.sync_page_bytes must be between 4096 and 268435456, got {}",
                self.sync_page_bytes
            );
        }
        Ok(())
    }

    pub fn websocket_write_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.websocket_write_timeout)
    }

    pub fn http_header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.http_header_timeout)
    }

    pub fn call_setup_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.call_setup_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Limits::default().validate().unwrap();
        assert!(Limits::default().websocket_write_timeout <= 30.0);
    }

    #[test]
    fn overrides_by_name() {
        let mut l = Limits::default();
        l.set("max_calls_per_connection=2").unwrap();
        l.set(" request_rate = 0.5 ").unwrap();
        l.set("upload_quota=1048576").unwrap();
        assert_eq!(l.max_calls_per_connection, 2);
        assert_eq!(l.request_rate, 0.5);
        assert_eq!(l.upload_quota, 1 << 20);
        let e = l.set("max_call=2").unwrap_err().to_string();
        assert!(e.contains("unknown limit"), "{e}");
        let e = l
            .set("max_calls_per_connection=lots")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_calls_per_connection"), "{e}");
        assert!(l.set("max_calls_per_connection").is_err());
        l.set("max_calls_per_connection=0").unwrap();
        let e = l.validate().unwrap_err().to_string();
        assert!(e.contains("limits.max_calls_per_connection"), "{e}");
    }

    #[test]
    fn the_readme_documents_every_limit() {
        let readme = include_str!("../../README.md");
        let security = readme
            .split("### Limits")
            .nth(1)
            .expect("the README's Security section has a Limits table");
        for name in toml::Table::try_from(Limits::default()).unwrap().keys() {
            assert!(
                security.contains(&format!("`{name}`")),
                "limits.{name} is not in the README's Limits table"
            );
        }
    }

    #[test]
    fn rates_and_timeouts_are_checked() {
        for (name, bad) in [
            ("request_rate", "0"),
            ("websocket_write_timeout", "31"),
            ("http_header_timeout", "0"),
            ("sync_page_bytes", "10"),
        ] {
            let mut l = Limits::default();
            l.set(&format!("{name}={bad}")).unwrap();
            let e = l.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
    }
}
