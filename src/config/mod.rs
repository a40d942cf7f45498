//! Configuration: defaults that work with nothing given, then a TOML file (`--config`), then
//! environment variables (`SYLK_*`), then command-line flags; later sources win.
//! A bad setting stops the start with a message that names it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Parser;
use serde::Deserialize;

pub mod limits;
pub use limits::Limits;

/// Default of `max_upload_size`: 100 MiB.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 100 * 1024 * 1024;
/// Largest accepted `max_upload_size`: 1 TiB.
const MAX_UPLOAD_SIZE_LIMIT: u64 = 1 << 40;

/// Every setting, with its default. The README lists the same table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP(S) and WebSocket listening address.
    pub listen: SocketAddr,
    /// Where the generated certificate (and later the message store) is kept.
    pub data_dir: PathBuf,
    /// Serve plain HTTP/WS instead of HTTPS/WSS.
    pub no_tls: bool,
    /// PEM certificate chain; with `tls_private_key`. Without both, a self-signed certificate
    /// is generated into `<data_dir>/tls/` on first start and reused afterwards.
    pub tls_certificate: Option<PathBuf>,
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
    /// UDP port of the media socket shared by every WebRTC peer (0: any free port). It binds
    /// on the IP of `listen`.
    pub media_port: u16,
    /// Media engine shards, each a thread with its own UDP socket on `media_port` + its
    /// index (0: one per core). Every peer of a room is on the room's shard.
    pub media_shards: usize,
    /// Datagrams handed to the kernel per sendmmsg call (1 to 64; 1: a syscall each).
    pub media_send_batch: usize,
    /// Addresses to put in the ICE candidates (public addresses behind NAT). Empty: the
    /// interface addresses (loopback only if there is nothing else, or if `listen` is loopback).
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
    /// Outbound SIP proxy (`sip:host[:port][;transport=udp|tcp]`) for every SIP request; unset
    /// (or empty): RFC 3263 lookup of the target's domain.
    pub sip_proxy: Option<String>,
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
    /// sylk-push server (`http://host[:port]/path`) told about messages and conference
    /// invitations for accounts with no live connection; unset: no push.
    pub push_url: Option<String>,
    /// Lifetime asked for in REGISTER, in seconds (testing aid, hidden).
    pub sip_register_expires: u32,
    /// SIP status an incoming call is declined with when the client terminates it before
    /// answering (SylkServer's `[Janus] decline_code`), 400-699.
    pub decline_code: u16,
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
            listen: SocketAddr::from(([0, 0, 0, 0], 10888)),
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
            file_transfer_dir: None,
            web_config: None,
            filetransfer_expire_days: 15,
            push_url: None,
            sip_register_expires: 600,
            decline_code: 486,
            debug_request_delay_ms: 0,
            debug_panic_payload: None,
        }
    }
}

/// Command-line flags; each also reads the environment variable named beside it.
#[derive(Debug, Parser)]
#[command(
    name = "sylk-gateway",
    version,
    about = "A SylkServer-compatible WebRTC gateway (sylkRTC-2 over WebSocket)",
    long_about = "A SylkServer-compatible WebRTC gateway: browsers speak sylkRTC-2 over \
                  wss://HOST:10888/webrtcgateway/ws.\n\nSettings come from defaults, then the \
                  TOML file given with --config, then SYLK_* environment variables, then flags."
)]
pub struct Cli {
    /// TOML configuration file
    #[arg(long, env = "SYLK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Listening address for HTTP(S)/WebSocket [default: 0.0.0.0:10888]
    #[arg(long, env = "SYLK_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Data directory (generated certificate, storage) [default: ./data]
    #[arg(long, env = "SYLK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Serve plain HTTP/WS (for loopback, or behind a TLS-terminating proxy)
    #[arg(long, env = "SYLK_NO_TLS")]
    pub no_tls: bool,
    /// PEM certificate (chain) to serve instead of the generated one
    #[arg(long, env = "SYLK_TLS_CERTIFICATE", value_name = "PATH")]
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key of --tls-certificate
    #[arg(long, env = "SYLK_TLS_PRIVATE_KEY", value_name = "PATH")]
    pub tls_private_key: Option<PathBuf>,
    /// Allowed WebSocket origins, comma separated [default: *]
    #[arg(
        long,
        env = "SYLK_WEB_ORIGINS",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub web_origins: Option<Vec<String>>,
    /// SIP domains allowed in account-add, comma separated [default: *]
    #[arg(
        long,
        env = "SYLK_SIP_DOMAINS",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub sip_domains: Option<Vec<String>>,
    /// Seconds between WebSocket pings; the pong timeout is half of it [default: 120]
    #[arg(long, env = "SYLK_WEBSOCKET_PING_INTERVAL", value_name = "SECONDS")]
    pub websocket_ping_interval: Option<f64>,
    /// Largest WebSocket frame/message in bytes [default: 65536]
    #[arg(long, env = "SYLK_MAX_FRAME_SIZE", value_name = "BYTES")]
    pub max_frame_size: Option<usize>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info]
    #[arg(long, env = "SYLK_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log lines as `text` or `json` (one object per line) [default: text]
    #[arg(long, env = "SYLK_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// UDP port for all WebRTC media, on the IP of --listen [default: 10888]
    #[arg(long, env = "SYLK_MEDIA_PORT", value_name = "PORT")]
    pub media_port: Option<u16>,
    /// Media engine shards, one thread and UDP port each (media port + index) [default: 0, one per core]
    #[arg(long, env = "SYLK_MEDIA_SHARDS", value_name = "N")]
    pub media_shards: Option<usize>,
    /// Datagrams per sendmmsg call, 1 to 64 [default: 64]
    #[arg(long, env = "SYLK_MEDIA_SEND_BATCH", value_name = "N")]
    pub media_send_batch: Option<usize>,
    /// Address to advertise in ICE candidates; repeat for several [default: interface addresses]
    #[arg(
        long = "advertise-ip",
        env = "SYLK_ADVERTISE_IP",
        value_name = "IP",
        value_delimiter = ','
    )]
    pub advertise_ip: Option<Vec<std::net::IpAddr>>,
    /// Seconds without ICE consent checks before a browser is considered gone [default: 30]
    #[arg(long, env = "SYLK_ICE_CONSENT_TIMEOUT", value_name = "SECONDS")]
    pub ice_consent_timeout: Option<f64>,
    /// UDP ports for plain RTP toward SIP, LOW-HIGH [default: 30000-39999]
    #[arg(long, env = "SYLK_RTP_PORT_RANGE", value_name = "LOW-HIGH")]
    pub rtp_port_range: Option<String>,
    /// Directory of conference shared files, one folder per room [default: <data-dir>/filesharing]
    #[arg(long, env = "SYLK_FILESHARING_DIR", value_name = "DIR")]
    pub filesharing_dir: Option<PathBuf>,
    /// Largest conference file upload in bytes; a larger one gets HTTP 413 [default: 104857600]
    #[arg(long, env = "SYLK_MAX_UPLOAD_SIZE", value_name = "BYTES")]
    pub max_upload_size: Option<u64>,
    /// Branding of the web app (JSON served as /webrtcgateway/config.json) [default: built in]
    #[arg(long, env = "SYLK_WEB_CONFIG", value_name = "FILE")]
    pub web_config: Option<PathBuf>,
    /// Directory of 1:1 file transfers [default: <data-dir>/filetransfer]
    #[arg(long, env = "SYLK_FILE_TRANSFER_DIR", value_name = "DIR")]
    pub file_transfer_dir: Option<PathBuf>,
    /// Days a transferred file of 50 MB or more is kept; smaller ones twice as long [default: 15]
    #[arg(long, env = "SYLK_FILETRANSFER_EXPIRE_DAYS", value_name = "DAYS")]
    pub filetransfer_expire_days: Option<u32>,
    /// SIP address, UDP and TCP on the same port [default: 0.0.0.0:5060]
    #[arg(long, env = "SYLK_SIP_LISTEN", value_name = "ADDR:PORT")]
    pub sip_listen: Option<SocketAddr>,
    /// Outbound SIP proxy, e.g. sip:proxy.example.com:5060;transport=udp [default: RFC 3263 lookup of the domain]
    #[arg(long, env = "SYLK_SIP_PROXY", value_name = "URI")]
    pub sip_proxy: Option<String>,
    /// Trusted SIP source (IP or IP/BITS); repeat for several [default: the outbound proxy, or loopback]
    #[arg(
        long = "sip-trusted-peer",
        env = "SYLK_SIP_TRUSTED_PEER",
        value_name = "IP[/BITS]",
        value_delimiter = ','
    )]
    pub sip_trusted_peers: Option<Vec<String>>,
    /// Realm whose digest challenges are answered besides the account's domain; repeat; * for any [default: none]
    #[arg(
        long = "sip-auth-realm",
        env = "SYLK_SIP_AUTH_REALM",
        value_name = "REALM",
        value_delimiter = ','
    )]
    pub sip_auth_realms: Option<Vec<String>>,
    /// A limit, NAME=VALUE (see the README's Security section); repeat for several
    #[arg(
        long = "limit",
        env = "SYLK_LIMIT",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    pub limits: Option<Vec<String>>,
    /// sylk-push server URL (http://host[:port]/path) for accounts with no live connection [default: none]
    #[arg(long, env = "SYLK_PUSH_URL", value_name = "URL")]
    pub push_url: Option<String>,
    /// Testing aid: REGISTER lifetime in seconds
    #[arg(
        long,
        env = "SYLK_SIP_REGISTER_EXPIRES",
        value_name = "SECONDS",
        hide = true
    )]
    pub sip_register_expires: Option<u32>,
    /// SIP status declining an incoming call terminated before it was answered [default: 486]
    #[arg(long, env = "SYLK_DECLINE_CODE", value_name = "CODE")]
    pub decline_code: Option<u16>,
    /// Testing aid: delay every queued request by this many milliseconds
    #[arg(
        long,
        env = "SYLK_DEBUG_REQUEST_DELAY_MS",
        value_name = "MS",
        hide = true
    )]
    pub debug_request_delay_ms: Option<u64>,
    /// Testing aid: the media engine panics on an RTP payload starting with these bytes (hex)
    #[arg(
        long,
        env = "SYLK_DEBUG_PANIC_PAYLOAD",
        value_name = "HEX",
        hide = true
    )]
    pub debug_panic_payload: Option<String>,
}

impl Config {
    /// Builds the configuration from the command line (and the file and environment it names).
    pub fn from_cli(cli: Cli) -> anyhow::Result<Config> {
        let mut cfg = match &cli.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = cli.listen {
            cfg.listen = v;
        }
        if let Some(v) = cli.data_dir {
            cfg.data_dir = v;
        }
        if cli.no_tls {
            cfg.no_tls = true;
        }
        if let Some(v) = cli.tls_certificate {
            cfg.tls_certificate = Some(v);
        }
        if let Some(v) = cli.tls_private_key {
            cfg.tls_private_key = Some(v);
        }
        if let Some(v) = cli.web_origins {
            cfg.web_origins = v;
        }
        if let Some(v) = cli.sip_domains {
            cfg.sip_domains = v;
        }
        if let Some(v) = cli.websocket_ping_interval {
            cfg.websocket_ping_interval = v;
        }
        if let Some(v) = cli.max_frame_size {
            cfg.max_frame_size = v;
        }
        if let Some(v) = cli.log_level {
            cfg.log_level = v;
        }
        if let Some(v) = cli.log_format {
            cfg.log_format = v;
        }
        if let Some(v) = cli.media_port {
            cfg.media_port = v;
        }
        if let Some(v) = cli.media_shards {
            cfg.media_shards = v;
        }
        if let Some(v) = cli.media_send_batch {
            cfg.media_send_batch = v;
        }
        if let Some(v) = cli.advertise_ip {
            cfg.advertise_ip = v;
        }
        if let Some(v) = cli.ice_consent_timeout {
            cfg.ice_consent_timeout = v;
        }
        if let Some(v) = cli.rtp_port_range {
            cfg.rtp_port_range = v;
        }
        if let Some(v) = cli.filesharing_dir {
            cfg.filesharing_dir = Some(v);
        }
        if let Some(v) = cli.max_upload_size {
            cfg.max_upload_size = v;
        }
        if let Some(v) = cli.web_config {
            cfg.web_config = Some(v);
        }
        if let Some(v) = cli.file_transfer_dir {
            cfg.file_transfer_dir = Some(v);
        }
        if let Some(v) = cli.filetransfer_expire_days {
            cfg.filetransfer_expire_days = v;
        }
        if let Some(v) = cli.sip_listen {
            cfg.sip_listen = v;
        }
        if let Some(v) = cli.sip_proxy {
            cfg.sip_proxy = Some(v);
        }
        if let Some(v) = cli.sip_trusted_peers {
            cfg.sip_trusted_peers = v;
        }
        if let Some(v) = cli.sip_auth_realms {
            cfg.sip_auth_realms = v;
        }
        for assignment in cli.limits.unwrap_or_default() {
            cfg.limits.set(&assignment)?;
        }
        if let Some(v) = cli.push_url {
            cfg.push_url = Some(v).filter(|u| !u.trim().is_empty());
        }
        if let Some(v) = cli.sip_register_expires {
            cfg.sip_register_expires = v;
        }
        if let Some(v) = cli.decline_code {
            cfg.decline_code = v;
        }
        if let Some(v) = cli.debug_request_delay_ms {
            cfg.debug_request_delay_ms = v;
        }
        if let Some(v) = cli.debug_panic_payload {
            cfg.debug_panic_payload = Some(v);
        }
        cfg.validate()?;
        Ok(cfg)
    }

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

    /// The addresses to advertise in ICE candidates.
    pub fn advertised_ips(&self) -> Vec<std::net::IpAddr> {
        if !self.advertise_ip.is_empty() {
            return self.advertise_ip.clone();
        }
        let listen = self.listen.ip();
        if !listen.is_unspecified() {
            return vec![listen];
        }
        let mut ips: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
            .map(|all| {
                all.into_iter()
                    .map(|i| i.ip())
                    .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
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

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["sylk-gateway"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    #[test]
    fn defaults_are_valid() {
        let cfg = Config::default();
        cfg.validate().unwrap();
        assert_eq!(cfg.listen.to_string(), "0.0.0.0:10888");
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
        for bad in [
            "sip:127.0.0.1:99999",
            "sips:p.example.com",
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
}
