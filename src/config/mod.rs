//! Configuration: defaults that work with nothing given, then a TOML file (`--config`), then
//! environment variables (`SYLK_*`), then command-line flags; later sources win.
//! A bad setting stops the start with a message that names it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

mod cli;
pub mod cluster;
pub mod ice;
pub mod limits;
mod redact;
pub mod rooms;
pub use cli::{Cli, Command, KickTarget};
pub use ice::IceServer;
pub use limits::Limits;
pub use redact::redact_url;
pub use rooms::RoomSettings;

/// Default of `max_upload_size`: 100 MiB.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 100 * 1024 * 1024;
/// Largest accepted `max_upload_size`: 1 TiB.
const MAX_UPLOAD_SIZE_LIMIT: u64 = 1 << 40;

/// Debian's bundle of the system's certificate authorities (package ca-certificates).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Every setting, with its default. The README lists the same table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP(S) and WebSocket listening address.
    pub listen: SocketAddr,
    /// Where state is kept: the message store, the generated certificate, the admin token,
    /// shared and transferred files (unless their own settings say otherwise).
    pub data_dir: PathBuf,
    /// Serve plain HTTP/WS instead of HTTPS/WSS.
    pub no_tls: bool,
    /// PEM certificate chain; with `tls_private_key`. Without both, a self-signed certificate
    /// is generated into `<data_dir>/tls/` on first start and reused afterwards.
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key of `tls_certificate`.
    pub tls_private_key: Option<PathBuf>,
    /// Allowed WebSocket `Origin` values (`*` wildcards allowed); `["*"]` allows any.
    pub web_origins: Vec<String>,
    /// Domains allowed in `account-add`; `["*"]` allows any.
    pub sip_domains: Vec<String>,
    /// Seconds between WebSocket pings; a pong must come within half of it.
    pub websocket_ping_interval: f64,
    /// Largest WebSocket frame or message accepted, in bytes; a larger one closes that
    /// connection with close code 1009.
    pub max_frame_size: usize,
    /// A `tracing` filter: `info`, `debug`, `sylk_gateway=debug,info`, ...
    pub log_level: String,
    /// `text` (one readable line per event) or `json` (one JSON object per line).
    pub log_format: String,
    /// UDP port of the media socket shared by every WebRTC peer (0: any free port).
    pub media_port: u16,
    /// Offer ICE over TCP (RFC 6544 passive candidates) beside UDP, for browsers whose
    /// network blocks UDP.
    pub ice_tcp: bool,
    /// TCP port of ICE-TCP (shard `k` listens on it + `k`; 0: any free port). Unset: the
    /// media port, or the port after the HTTP listener's when that one holds the number
    /// (as in the default, where both are 10888).
    pub ice_tcp_port: Option<u16>,
    /// The IP the media sockets bind (unset: every address of both families, whatever
    /// `listen` is, so that a gateway behind a reverse proxy still takes media).
    pub media_listen: Option<std::net::IpAddr>,
    /// `https://host[:port]` under which browsers and SIP devices reach this gateway, for
    /// every URL it hands out (file transfers, message history); unset: built from `listen`
    /// (or the first advertised address when `listen` is a wildcard).
    pub public_url: Option<String>,
    /// STUN/TURN servers handed to browsers in `/webrtcgateway/config.json` (`iceServers`),
    /// TURN credentials made per request from a shared secret when `secret` is set.
    pub ice_servers: Vec<IceServer>,
    /// The admin API and `/metrics` listener (plain HTTP; keep it on loopback or a private
    /// network).
    pub admin_listen: SocketAddr,
    /// Bearer token of the admin API; unset: one is generated into `<data_dir>/admin.token`.
    pub admin_token: Option<String>,
    /// Seconds live calls and rooms may go on after SIGTERM before they are ended.
    pub shutdown_grace: f64,
    /// Media engine shards, each a thread with its own UDP socket on `media_port` + its
    /// index (0: one per core). Every peer of a room is on the room's shard.
    pub media_shards: usize,
    /// Datagrams handed to the kernel per sendmmsg call (1 to 64; 1: a syscall each).
    pub media_send_batch: usize,
    /// Addresses to put in the ICE candidates (public addresses behind NAT). Empty:
    /// `media_listen` when it is set, else the interface addresses of both families (IPv4
    /// first; loopback only when there is nothing else).
    pub advertise_ip: Vec<std::net::IpAddr>,
    /// Seconds without an ICE consent check (STUN from the browser) before a peer is
    /// considered gone.
    pub ice_consent_timeout: f64,
    /// UDP ports for the plain RTP legs of calls toward SIP (`LOW-HIGH`, inclusive).
    pub rtp_port_range: String,
    /// Where conference rooms' shared files are kept, one folder per room; unset means
    /// `<data_dir>/filesharing` (see [`Config::filesharing_dir`]).
    pub filesharing_dir: Option<PathBuf>,
    /// Largest conference file upload, in bytes; a larger one gets HTTP 413.
    pub max_upload_size: u64,
    /// The web app's branding file (JSON: title, logo, colors, default_domain,
    /// default_room_domain) served as /webrtcgateway/config.json; unset: the built-in one.
    pub web_config: Option<PathBuf>,
    /// Where 1:1 file transfers are kept; unset means `<data_dir>/filetransfer`.
    pub file_transfer_dir: Option<PathBuf>,
    /// Days a transferred file of 50 MB or more is kept (smaller ones: twice as long).
    pub filetransfer_expire_days: u32,
    /// SIP user agent address, UDP and TCP on the same port (0: any free port).
    pub sip_listen: SocketAddr,
    /// Outbound SIP proxy (`sip:host[:port][;transport=udp|tcp|tls]`, or `sips:host[:port]`)
    /// for every SIP request; unset (or empty): RFC 3263 lookup of the target's domain.
    pub sip_proxy: Option<String>,
    /// Certificate authorities (a PEM file) a SIP proxy's TLS certificate must chain to;
    /// unset: the system's (`/etc/ssl/certs/ca-certificates.crt`).
    pub sip_tls_ca: Option<PathBuf>,
    /// Sources (`IP` or `IP/BITS`) trusted for SIP requests outside dialogs, by the socket
    /// address they came from. Set: only these may send such requests (others get 403).
    /// Empty (the default): anyone may send chat messages and calls, but requests that change
    /// stored data (API messages, copies from the user's SIP devices, IMDNs, API tokens) and
    /// INVITE-triggered pushes are taken only from the outbound proxy's addresses (from
    /// loopback when no proxy is set).
    pub sip_trusted_peers: Vec<String>,
    /// Realms whose digest challenges are answered besides the account's own domain (and
    /// any challenge that came from the outbound proxy); `*` answers every realm.
    pub sip_auth_realms: Vec<String>,
    /// What one client, one source or one room may cost ([`Limits`]).
    pub limits: Limits,
    /// Settings of particular rooms, by room URI (`[rooms."name@domain"]`, [`RoomSettings`]):
    /// who may join, audio only.
    pub rooms: std::collections::BTreeMap<String, RoomSettings>,
    /// Bits/s the publishers of a room may send together (SylkServer's `[Janus]
    /// max_bitrate`), shared as a room's `max_bitrate` is; unset: no cap (each browser's own
    /// estimate).
    pub room_max_bitrate: Option<u64>,
    /// The video codec of rooms (`vp8`, `vp9` or `h264`; SylkServer's `[Janus] video_codec`)
    /// unless a room's `video_codec` says otherwise.
    pub room_video_codec: String,
    /// SDES-SRTP toward SIP (RFC 4568): `optional` offers RTP/AVP with keys and takes plain
    /// or encrypted media (Janus's `sdes_optional`, as SylkServer asks; phone numbers get
    /// plain RTP), `mandatory` offers RTP/SAVP and refuses plain RTP with 488, `disabled`
    /// offers no keys and refuses RTP/SAVP.
    pub sdes_srtp: String,
    /// `sdes_srtp` per account domain (`"example.com" = "mandatory"`), over the global one.
    pub sdes_srtp_domains: std::collections::BTreeMap<String, String>,
    /// sylk-push server (`http://host[:port]/path`) told about messages and conference
    /// invitations for accounts with no live connection; unset: no push.
    pub push_url: Option<String>,
    /// Lifetime asked for in REGISTER, in seconds (testing aid, hidden).
    pub sip_register_expires: u32,
    /// SIP status an incoming call is declined with when the client terminates it before
    /// answering (SylkServer's `[Janus] decline_code`), 400-699.
    pub decline_code: u16,
    /// Domains whose rooms SIP phones can call (`sip:<room>@<domain>`, routed to the gateway
    /// by the proxy): the phone joins room `<room>@<domain>` as an audio participant and
    /// hears a mix of the others. Empty: no dial-in.
    pub conference_domains: Vec<String>,
    /// `videoroom-invite` naming an address that no connection of this gateway has added
    /// (a phone, a number through the proxy) calls it from the room with the inviting
    /// account's identity; once answered it is an audio participant.
    pub room_dial_out: bool,
    /// CPU the Opus encoders of the rooms' audio mixes may spend for quality (0-10; each
    /// phone in a room costs one encode per 20 ms).
    pub mixer_opus_complexity: i32,
    /// The message store: unset, the embedded SQLite at `<data_dir>/storage.sqlite`;
    /// `postgres://user:password@host:port/db`, a PostgreSQL database that several gateways
    /// share.
    pub storage_url: Option<String>,
    /// Several gateways as one service over PostgreSQL and Redis (docs/cluster.md).
    pub cluster: cluster::Cluster,
    /// Testing aid (fault injection): delay each queued request by this many milliseconds
    /// before handling it, to make a slow request queue observable. 0 in production.
    pub debug_request_delay_ms: u64,
    /// Testing aid (fault injection): the media engine panics while forwarding an RTP packet
    /// whose payload starts with these bytes (hex), to show that a panic ends only that peer.
    /// Unset in production.
    pub debug_panic_payload: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // Both families (bound dual-stack, or IPv4 alone where IPv6 is off).
            listen: SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 10888)),
            data_dir: PathBuf::from("data"),
            no_tls: false,
            tls_certificate: None,
            tls_private_key: None,
            web_origins: vec!["*".into()],
            sip_domains: vec!["*".into()],
            websocket_ping_interval: 120.0,
            max_frame_size: 64 * 1024,
            log_level: "info".into(),
            log_format: "text".into(),
            media_port: 10888,
            ice_tcp: true,
            ice_tcp_port: None,
            media_listen: None,
            public_url: None,
            ice_servers: Vec::new(),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 10880)),
            admin_token: None,
            shutdown_grace: 30.0,
            media_shards: 0,
            media_send_batch: 64,
            advertise_ip: Vec::new(),
            ice_consent_timeout: 30.0,
            rtp_port_range: "30000-39999".into(),
            filesharing_dir: None,
            max_upload_size: DEFAULT_MAX_UPLOAD_SIZE,
            sip_listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            sip_proxy: None,
            sip_trusted_peers: Vec::new(),
            sip_auth_realms: Vec::new(),
            limits: Limits::default(),
            rooms: Default::default(),
            room_max_bitrate: None,
            room_video_codec: "vp8".into(),
            sdes_srtp: "optional".into(),
            sip_tls_ca: None,
            sdes_srtp_domains: Default::default(),
            file_transfer_dir: None,
            web_config: None,
            filetransfer_expire_days: 15,
            push_url: None,
            sip_register_expires: 600,
            decline_code: 486,
            conference_domains: Vec::new(),
            room_dial_out: true,
            mixer_opus_complexity: 5,
            storage_url: None,
            cluster: Default::default(),
            debug_request_delay_ms: 0,
            debug_panic_payload: None,
        }
    }
}

impl Config {
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        Config::from_toml(&text)
            .with_context(|| format!("bad configuration file {}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        // The full error text quotes the offending line, so it names the setting.
        let cfg: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        let ping = self.websocket_ping_interval;
        if !(ping.is_finite() && (0.1..=86400.0).contains(&ping)) {
            bail!("websocket_ping_interval must be between 0.1 and 86400 seconds, got {ping}");
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_frame_size) {
            bail!(
                "max_frame_size must be between 1024 and 67108864 bytes, got {}",
                self.max_frame_size
            );
        }
        if self.web_origins.is_empty() || self.web_origins.iter().any(|o| o.trim().is_empty()) {
            bail!("web_origins must list at least one origin (\"*\" allows any), without empty entries");
        }
        if self.sip_domains.is_empty() || self.sip_domains.iter().any(|d| d.trim().is_empty()) {
            bail!("sip_domains must list at least one domain (\"*\" allows any), without empty entries");
        }
        match (&self.tls_certificate, &self.tls_private_key) {
            (Some(_), None) => bail!("tls_certificate is set but tls_private_key is not"),
            (None, Some(_)) => bail!("tls_private_key is set but tls_certificate is not"),
            _ => {}
        }
        if self.media_shards > 64 {
            bail!("media_shards must be at most 64, got {}", self.media_shards);
        }
        if !(1..=64).contains(&self.media_send_batch) {
            bail!(
                "media_send_batch must be between 1 and 64, got {}",
                self.media_send_batch
            );
        }
        let consent = self.ice_consent_timeout;
        if !(consent.is_finite() && (1.0..=3600.0).contains(&consent)) {
            bail!("ice_consent_timeout must be between 1 and 3600 seconds, got {consent}");
        }
        if self
            .filesharing_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            bail!("filesharing_dir must not be empty (leave it unset for <data_dir>/filesharing)");
        }
        if !(1..=MAX_UPLOAD_SIZE_LIMIT).contains(&self.max_upload_size) {
            bail!(
                "max_upload_size must be between 1 and {MAX_UPLOAD_SIZE_LIMIT} bytes, got {}",
                self.max_upload_size
            );
        }
        if parse_port_range(&self.rtp_port_range).is_none() {
            bail!(
                "rtp_port_range must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got {:?}",
                self.rtp_port_range
            );
        }
        if self.advertise_ip.iter().any(|ip| ip.is_unspecified()) {
            bail!("advertise_ip must be a concrete address, not 0.0.0.0 or ::");
        }
        if let Some(proxy) = self.sip_proxy.as_deref().filter(|p| !p.trim().is_empty()) {
            if let Err(e) = proxy.trim().parse::<signaling::sip::ProxyUri>() {
                bail!("sip_proxy: {e}");
            }
        }
        if let Some(url) = &self.push_url {
            if crate::push::PushUrl::parse(url).is_none() {
                bail!("push_url must be http://host[:port][/path], got {url:?}");
            }
        }
        if self.filetransfer_expire_days == 0 {
            bail!("filetransfer_expire_days must be at least 1");
        }
        for peer in &self.sip_trusted_peers {
            if parse_network(peer).is_none() {
                bail!("sip_trusted_peers: {peer:?} is not an IP or IP/BITS");
            }
        }
        if let Some(url) = &self.storage_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!(
                    "storage_url must start with postgres:// (unset: the embedded SQLite store), got {:?}",
                    redact_url(url)
                );
            }
        }
        self.cluster.validate()?;
        if !(0..=10).contains(&self.mixer_opus_complexity) {
            bail!(
                "mixer_opus_complexity must be between 0 and 10, got {}",
                self.mixer_opus_complexity
            );
        }
        for d in &self.conference_domains {
            if d.is_empty() || d.contains(['@', ':', ' ', ';']) {
                bail!("conference_domains: {d:?} is not a domain");
            }
        }
        if !(400..=699).contains(&self.decline_code) {
            bail!(
                "decline_code must be a SIP failure status (400-699), got {}",
                self.decline_code
            );
        }
        if !(10..=86400).contains(&self.sip_register_expires) {
            bail!(
                "sip_register_expires must be between 10 and 86400 seconds, got {}",
                self.sip_register_expires
            );
        }
        if self.sip_auth_realms.iter().any(|r| r.trim().is_empty()) {
            bail!("sip_auth_realms must not contain empty entries");
        }
        if let Some(hex) = &self.debug_panic_payload {
            if self.debug_panic_bytes().is_none() {
                bail!("debug_panic_payload must be non-empty hex, got {hex:?}");
            }
        }
        if self.media_listen.is_some_and(|ip| ip.is_multicast()) {
            bail!("media_listen must be a unicast address or unset");
        }
        if let Some(url) = &self.public_url {
            if parse_public_url(url).is_none() {
                bail!("public_url must be http(s)://host[:port] without a path, got {url:?}");
            }
        }
        for server in &self.ice_servers {
            server.validate()?;
        }
        if self
            .admin_token
            .as_deref()
            .is_some_and(|t| t.trim().len() < 16)
        {
            bail!("admin_token must be at least 16 characters");
        }
        let grace = self.shutdown_grace;
        if !(grace.is_finite() && (0.0..=86400.0).contains(&grace)) {
            bail!("shutdown_grace must be between 0 and 86400 seconds, got {grace}");
        }
        if self
            .room_max_bitrate
            .is_some_and(|b| b < rooms::MIN_BITRATE)
        {
            bail!(
                "room_max_bitrate must be at least {} bits/s",
                rooms::MIN_BITRATE
            );
        }
        rooms::check_video_codec("room_video_codec", &self.room_video_codec)?;
        if let Some(path) = &self.sip_tls_ca {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("sip_tls_ca: cannot read {}: {e}", path.display()))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                bail!("sip_tls_ca: {} holds no PEM certificate", path.display());
            }
        }
        let modes = std::iter::once(("sdes_srtp".to_string(), &self.sdes_srtp)).chain(
            self.sdes_srtp_domains
                .iter()
                .map(|(d, m)| (format!("sdes_srtp_domains.\"{d}\""), m)),
        );
        for (setting, mode) in modes {
            if media::SdesMode::parse(mode).is_none() {
                bail!(
                    "{setting} must be \"disabled\", \"optional\" or \"mandatory\", got {mode:?}"
                );
            }
        }
        for (room, settings) in &self.rooms {
            settings.validate(room)?;
        }
        self.limits.validate()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be text or json, got {:?}", self.log_format);
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(self.log_filter()) {
            bail!(
                "log_level {:?} is not a valid level or filter: {e}",
                self.log_level
            );
        }
        Ok(())
    }

    /// The `tracing` filter to install. The WebSocket libraries log whole frames (and so
    /// account passwords) at `trace`, so they are held at `info` unless the filter names
    /// them itself; the SIP stack (rsipstack) logs every SIP message it sends or receives at
    /// `info` (push tokens, digest answers), so it is held at `warn` the same way.
    pub fn log_filter(&self) -> String {
        self.log_filter_from(&self.log_level)
    }

    /// The tracing filter for `level` (a `log_level` or RUST_LOG value), with the noisy
    /// modules held back unless it names them.
    pub fn log_filter_from(&self, level: &str) -> String {
        let mut filter = level.to_string();
        for (noisy, level) in [
            ("tungstenite", "info"),
            ("tokio_tungstenite", "info"),
            ("rsipstack", "warn"),
            // A browser's DTLS hello carries extensions rtc does not know (three per Chromium
            // handshake): normal, not worth a warning each.
            (
                "rtc_dtls::handshake::handshake_message_client_hello",
                "error",
            ),
            (
                "rtc_dtls::handshake::handshake_message_server_hello",
                "error",
            ),
        ] {
            if !filter.contains(noisy) {
                filter.push_str(&format!(",{noisy}={level}"));
            }
        }
        filter
    }

    /// The settings of room `uri`, if it has any (URIs compare case-insensitively).
    pub fn room_settings(&self, uri: &str) -> Option<&RoomSettings> {
        self.rooms
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(uri))
            .map(|(_, s)| s)
    }

    /// The bits/s the publishers of room `uri` may send together, if capped.
    pub fn room_max_bitrate(&self, uri: &str) -> Option<u64> {
        self.room_settings(uri)
            .and_then(|s| s.max_bitrate)
            .or(self.room_max_bitrate)
    }

    /// The SDES-SRTP mode of a call of `account` (`user@domain`) with `remote` (the far
    /// end's `user@domain`, when known): its domain's, else the global one; `optional`
    /// offers nothing to a phone number (digits, maybe a leading `+`), as SylkServer does.
    pub fn sdes_mode(&self, account: &str, remote: Option<&str>) -> media::SdesMode {
        let domain = account.rsplit_once('@').map_or("", |(_, d)| d);
        let name = self
            .sdes_srtp_domains
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(domain))
            .map_or(self.sdes_srtp.as_str(), |(_, m)| m.as_str());
        // Checked when the configuration was loaded.
        let mode = media::SdesMode::parse(name).unwrap_or_default();
        let user = remote
            .and_then(|r| r.split_once('@'))
            .map_or("", |(u, _)| u);
        let digits = user.strip_prefix('+').unwrap_or(user);
        let phone_number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        if mode == media::SdesMode::Optional && phone_number {
            media::SdesMode::Disabled
        } else {
            mode
        }
    }

    /// The video codec of room `uri`.
    pub fn room_video_codec(&self, uri: &str) -> media::VideoCodec {
        let name = self
            .room_settings(uri)
            .and_then(|s| s.video_codec.as_deref())
            .unwrap_or(&self.room_video_codec);
        // Checked when the configuration was loaded.
        media::VideoCodec::parse(name).unwrap_or_default()
    }

    /// The IP the media sockets bind: `media_listen`, or every address of both families.
    pub fn media_bind_ip(&self) -> std::net::IpAddr {
        self.media_listen
            .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
    }

    /// The first ICE-TCP port for `shards` shards (`None`: ICE-TCP off): `ice_tcp_port`, or
    /// the media port, moved past the HTTP listener's port when the range would hold it.
    pub fn ice_tcp_first_port(&self, shards: usize, http_port: u16) -> Option<u16> {
        if !self.ice_tcp {
            return None;
        }
        if let Some(p) = self.ice_tcp_port {
            return Some(p);
        }
        let first = self.media_port;
        if first == 0 {
            return Some(0);
        }
        let last = u32::from(first) + shards.max(1) as u32 - 1;
        if (u32::from(first)..=last).contains(&u32::from(http_port)) {
            http_port.checked_add(1)
        } else {
            Some(first)
        }
    }

    /// `scheme://host[:port]` of `public_url` (validated), without a trailing slash.
    pub fn public_url(&self) -> Option<String> {
        self.public_url.as_deref().and_then(parse_public_url)
    }

    /// The addresses to advertise in ICE candidates: `advertise_ip`, else the media address
    /// when it is a concrete one, else the interface addresses (IPv4 first).
    pub fn advertised_ips(&self) -> Vec<std::net::IpAddr> {
        if !self.advertise_ip.is_empty() {
            return self.advertise_ip.clone();
        }
        let bind = self.media_bind_ip();
        if !bind.is_unspecified() {
            return vec![bind];
        }
        let mut ips: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
            .map(|all| {
                all.into_iter()
                    .map(|i| i.ip())
                    .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
                    // A socket on the IPv4 wildcard cannot take IPv6.
                    .filter(|ip| ip.is_ipv4() || bind.is_ipv6())
                    .filter(|ip| match ip {
                        // Link-local IPv6 needs a scope id, which ICE candidates cannot carry.
                        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                        std::net::IpAddr::V4(_) => true,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if ips.is_empty() {
            ips.push(std::net::IpAddr::from([127, 0, 0, 1]));
        }
        // SIP legs and most browsers start with the first one: IPv4 first.
        ips.sort_by_key(|ip| ip.is_ipv6());
        ips
    }

    /// The trusted MESSAGE sources as networks (validated at start).
    pub fn sip_trusted_peers(&self) -> Vec<(std::net::IpAddr, u8)> {
        self.sip_trusted_peers
            .iter()
            .filter_map(|p| parse_network(p))
            .collect()
    }

    /// The bytes of `debug_panic_payload` (validated at start).
    pub fn debug_panic_bytes(&self) -> Option<Vec<u8>> {
        let hex = self.debug_panic_payload.as_deref()?.trim();
        if hex.is_empty() || hex.len() % 2 != 0 {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect()
    }

    /// The outbound SIP proxy (validated); `None` when unset or empty.
    pub fn sip_proxy(&self) -> Option<signaling::sip::ProxyUri> {
        self.sip_proxy
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .and_then(|p| p.parse().ok())
    }

    /// The PEM certificate authorities a SIP proxy's TLS certificate must chain to:
    /// `sip_tls_ca`, or the system's bundle (None when there is none: TLS proxies fail).
    pub fn sip_tls_ca(&self) -> Option<Vec<u8>> {
        let path = self
            .sip_tls_ca
            .clone()
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE));
        match std::fs::read(&path) {
            Ok(pem) => Some(pem),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "no certificate authorities for SIP over TLS");
                None
            }
        }
    }

    /// The directory of 1:1 file transfers.
    pub fn file_transfer_dir(&self) -> PathBuf {
        match &self.file_transfer_dir {
            Some(dir) => dir.clone(),
            None => self.data_dir.join("filetransfer"),
        }
    }

    /// The directory of conference shared files (`<filesharing_dir>/<room>/`).
    pub fn filesharing_dir(&self) -> PathBuf {
        match &self.filesharing_dir {
            Some(dir) => dir.clone(),
            None => self.data_dir.join("filesharing"),
        }
    }

    /// The plain RTP port range (validated at start).
    pub fn rtp_ports(&self) -> (u16, u16) {
        parse_port_range(&self.rtp_port_range).unwrap_or((30000, 39999))
    }

    pub fn ping_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.websocket_ping_interval)
    }

    /// Whether a WebSocket `Origin` header value may connect.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.web_origins.iter().any(|o| o == "*") {
            return true;
        }
        match origin {
            // Non-browser clients send no Origin; autobahn lets them in.
            None => true,
            Some("null") => false,
            Some(origin) => self.web_origins.iter().any(|p| wildcard_match(p, origin)),
        }
    }

    /// Whether `account-add` accepts an account of this domain.
    pub fn sip_domain_allowed(&self, domain: &str) -> bool {
        self.sip_domains.iter().any(|d| d == "*" || d == domain)
    }
}

/// `http(s)://host[:port]` (a trailing slash is dropped; no path, query or user part).
fn parse_public_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let valid = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest.parse::<http::uri::Authority>().is_ok();
    valid.then(|| url.to_string())
}

fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let (lo, hi) = s.split_once('-')?;
    let (lo, hi) = (
        lo.trim().parse::<u16>().ok()?,
        hi.trim().parse::<u16>().ok()?,
    );
    (lo >= 1 && lo <= hi).then_some((lo, hi))
}

/// Case-insensitive match with `*` standing for any run of characters.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// `IP` (a host) or `IP/BITS`.
fn parse_network(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let text = text.trim();
    let (ip, bits) = match text.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["sylk-gateway"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    #[test]
    fn defaults_are_valid() {
        let cfg = Config::default();
        cfg.validate().unwrap();
        assert_eq!(cfg.listen.to_string(), "[::]:10888");
        assert_eq!(cfg.max_frame_size, 65536);
        assert_eq!(cfg.ping_interval().as_secs(), 120);
    }

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nsip_domains = [\"example.com\"]\nlog_level = \"debug\"\n",
        )
        .unwrap();
        let cfg = Config::from_cli(cli(&[
            "--config",
            path.to_str().unwrap(),
            "--log-level",
            "warn",
        ]))
        .unwrap();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(cfg.sip_domains, vec!["example.com"]);
        assert_eq!(cfg.log_level, "warn");
    }

    #[test]
    fn the_ice_tcp_port_steps_past_the_http_listener() {
        let cfg = Config::default();
        // The zero-config default: HTTP and media both 10888.
        assert_eq!(cfg.ice_tcp_first_port(1, 10888), Some(10889));
        assert_eq!(cfg.ice_tcp_first_port(2, 10889), Some(10890));
        assert_eq!(cfg.ice_tcp_first_port(2, 443), Some(10888));
        let cfg = Config {
            ice_tcp_port: Some(4443),
            ..Config::default()
        };
        assert_eq!(cfg.ice_tcp_first_port(4, 10888), Some(4443));
        let cfg = Config {
            ice_tcp: false,
            ..Config::default()
        };
        assert_eq!(cfg.ice_tcp_first_port(1, 10888), None);
        let cfg = Config {
            media_port: 0,
            ..Config::default()
        };
        assert_eq!(cfg.ice_tcp_first_port(1, 10888), Some(0));
    }

    #[test]
    fn deployment_settings() {
        let cfg = Config::from_toml(
            r#"
            media_listen = "192.0.2.7"
            public_url = "https://sylk.example.com/"
            admin_listen = "127.0.0.1:9999"
            shutdown_grace = 5
            [[ice_servers]]
            urls = ["stun:stun.example.com"]
            [[ice_servers]]
            urls = ["turn:turn.example.com:3478?transport=tcp"]
            secret = "shared"
            ttl = 600
            "#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.advertised_ips(),
            vec!["192.0.2.7".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            cfg.public_url().as_deref(),
            Some("https://sylk.example.com")
        );
        assert_eq!(cfg.ice_servers.len(), 2);
        // Round trip through print-config's output.
        let printed = toml::to_string(&cfg).unwrap();
        assert_eq!(Config::from_toml(&printed).unwrap(), cfg);
        // The default media address is every address, whatever `listen` is.
        let cfg = Config {
            listen: "127.0.0.1:10888".parse().unwrap(),
            ..Config::default()
        };
        assert!(cfg.media_bind_ip().is_unspecified());
        for (toml, name) in [
            ("public_url = \"ftp://x\"", "public_url"),
            ("public_url = \"https://x/path\"", "public_url"),
            ("media_listen = \"224.0.0.1\"", "media_listen"),
            ("admin_token = \"short\"", "admin_token"),
            ("shutdown_grace = -1", "shutdown_grace"),
            ("[[ice_servers]]\nurls = [\"turn:x\"]", "ice_servers"),
        ] {
            let e = Config::from_toml(toml)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(e.contains(name), "{toml}: {e}");
        }
    }

    #[test]
    fn bad_settings_name_themselves() {
        let e = Config::from_toml("listen = \"nowhere\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen") || e.contains("socket address"), "{e}");
        let e = Config::from_toml("lisen = \"1.2.3.4:5\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lisen"), "{e}");
        let cfg = Config {
            websocket_ping_interval: 0.0,
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("websocket_ping_interval"));
        let cfg = Config {
            max_frame_size: 10,
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_frame_size"));
        let cfg = Config {
            tls_certificate: Some("x.pem".into()),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tls_private_key"));
        let cfg = Config {
            log_level: "info,[[[".into(),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("log_level"));
        assert!(Cli::try_parse_from(["sylk-gateway", "--listen", "x"]).is_err());
        let cfg = Config {
            max_upload_size: 0,
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_upload_size"));
        let cfg = Config {
            filesharing_dir: Some(PathBuf::new()),
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("filesharing_dir"));
    }

    #[test]
    fn sip_trusted_peers() {
        let cfg = Config::from_cli(cli(&[
            "--sip-trusted-peer",
            "127.0.0.1",
            "--sip-trusted-peer",
            "10.0.0.0/8,::1/128",
        ]))
        .unwrap();
        let ip = |t: &str| t.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(
            cfg.sip_trusted_peers(),
            vec![(ip("127.0.0.1"), 32), (ip("10.0.0.0"), 8), (ip("::1"), 128)]
        );
        assert!(Config::default().sip_trusted_peers().is_empty());
        for bad in ["10.0.0.0/33", "example.com", "::1/129", "1.2.3.4/x", ""] {
            let e = Config::from_cli(cli(&["--sip-trusted-peer", bad]));
            let e = e.expect_err(bad).to_string();
            assert!(e.contains("sip_trusted_peers"), "{bad}: {e}");
        }
    }

    #[test]
    fn filesharing_settings() {
        let cfg = Config::from_cli(cli(&["--data-dir", "/srv/gw"])).unwrap();
        assert_eq!(cfg.filesharing_dir(), PathBuf::from("/srv/gw/filesharing"));
        assert_eq!(cfg.max_upload_size, 100 * 1024 * 1024);
        let cfg = Config::from_cli(cli(&[
            "--filesharing-dir",
            "/srv/files",
            "--max-upload-size",
            "2048",
        ]))
        .unwrap();
        assert_eq!(cfg.filesharing_dir(), PathBuf::from("/srv/files"));
        assert_eq!(cfg.max_upload_size, 2048);
        let cfg = Config::from_toml("filesharing_dir = \"/x/y\"\nmax_upload_size = 10\n").unwrap();
        assert_eq!(cfg.filesharing_dir(), PathBuf::from("/x/y"));
        assert_eq!(cfg.max_upload_size, 10);
        assert!(Cli::try_parse_from(["sylk-gateway", "--max-upload-size", "-1"]).is_err());
    }

    #[test]
    fn sip_settings() {
        let cfg = Config::default();
        assert_eq!(cfg.sip_listen.to_string(), "0.0.0.0:5060");
        assert_eq!(cfg.sip_proxy(), None);
        assert_eq!(cfg.sip_register_expires, 600);
        let cfg = Config::from_cli(cli(&[
            "--sip-listen",
            "127.0.0.1:0",
            "--sip-proxy",
            "sip:127.0.0.1:5060;transport=udp",
        ]))
        .unwrap();
        assert_eq!(cfg.sip_listen.to_string(), "127.0.0.1:0");
        assert_eq!(
            cfg.sip_proxy().unwrap().to_string(),
            "sip:127.0.0.1:5060;transport=udp"
        );
        let cfg = Config::from_toml("sip_proxy = \"proxy.example.com;transport=tcp\"\n").unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.sip_proxy().unwrap().to_string(),
            "sip:proxy.example.com;transport=tcp"
        );
        let cfg = Config::from_toml("sip_proxy = \"\"\n").unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.sip_proxy(), None);
        let cfg = Config::from_toml("sip_proxy = \"sips:p.example.com\"\n").unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.sip_proxy().unwrap().to_string(),
            "sip:p.example.com;transport=tls"
        );
        for bad in [
            "sip:127.0.0.1:99999",
            "sips:p.example.com;transport=udp",
            "sip:alice@p.example.com",
        ] {
            let e = Config::from_cli(cli(&["--sip-proxy", bad]))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("sip_proxy: "), "{e}");
        }
        let cfg = Config {
            sip_register_expires: 5,
            ..Config::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sip_register_expires"));
        assert!(Cli::try_parse_from(["sylk-gateway", "--sip-listen", "5060"]).is_err());
    }

    #[test]
    fn origins_and_domains() {
        let cfg = Config {
            web_origins: vec![
                "https://*.example.com".into(),
                "http://localhost:3000".into(),
            ],
            sip_domains: vec!["example.com".into()],
            ..Config::default()
        };
        assert!(cfg.origin_allowed(Some("https://app.example.com")));
        assert!(cfg.origin_allowed(Some("http://localhost:3000")));
        assert!(!cfg.origin_allowed(Some("https://evil.com")));
        assert!(!cfg.origin_allowed(Some("null")));
        assert!(cfg.origin_allowed(None));
        assert!(Config::default().origin_allowed(Some("null")));
        assert!(cfg.sip_domain_allowed("example.com"));
        assert!(!cfg.sip_domain_allowed("other.org"));
        assert!(Config::default().sip_domain_allowed(""));
    }

    #[test]
    fn sdes_srtp_modes_by_domain_and_for_phone_numbers() {
        let c = Config::from_toml(
            "sdes_srtp = \"optional\"\n[sdes_srtp_domains]\n\"secure.example.com\" = \"mandatory\"\n\"plain.example.com\" = \"disabled\"\n",
        )
        .unwrap();
        use media::SdesMode::*;
        assert_eq!(
            c.sdes_mode("a@example.com", Some("b@example.org")),
            Optional
        );
        assert_eq!(c.sdes_mode("a@Secure.Example.com", Some("b@x")), Mandatory);
        assert_eq!(c.sdes_mode("a@plain.example.com", None), Disabled);
        // A phone number gets plain RTP unless SRTP is mandatory.
        assert_eq!(
            c.sdes_mode("a@example.com", Some("+31201234567@x")),
            Disabled
        );
        assert_eq!(c.sdes_mode("a@example.com", Some("0800@x")), Disabled);
        assert_eq!(
            c.sdes_mode("a@secure.example.com", Some("0800@x")),
            Mandatory
        );
        for bad in [
            "sdes_srtp = \"always\"\n",
            "[sdes_srtp_domains]\n\"x.org\" = \"maybe\"\n",
        ] {
            let e = Config::from_toml(bad)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(e.contains("sdes_srtp"), "{e}");
        }
    }
}
