//! The command line: every setting as a flag (and a `SYLK_*` environment variable), merged
//! over the file's values.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use super::Config;

/// Subcommands: tools around a gateway rather than the gateway itself.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Check the configuration (file, environment, flags) and exit: 0 when it is valid, 2 with
    /// the setting named when not
    CheckConfig,
    /// Print the effective configuration as TOML (every setting, defaults included)
    PrintConfig,
    /// Ask the running gateway's admin API for its state (connections, rooms, calls)
    Status,
    /// End a connection, a room participant or a call on the running gateway
    Kick {
        #[command(subcommand)]
        target: KickTarget,
    },
}

/// What `kick` ends.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KickTarget {
    /// A WebSocket connection, by the id `status` shows
    Connection { id: u64 },
    /// A participant of a room, by room URI and the participant's session id
    Participant { room: String, session: String },
    /// A 1:1 call, by its session id
    Call { session: String },
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
    /// What to do instead of serving
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file
    #[arg(long, env = "SYLK_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Listening address for HTTP(S)/WebSocket [default: [::]:10888, both families]
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
    /// UDP port for all WebRTC media [default: 10888]
    #[arg(long, env = "SYLK_MEDIA_PORT", value_name = "PORT")]
    pub media_port: Option<u16>,
    /// TCP port of ICE-TCP, one more per shard [default: the media port, or the next one when HTTP holds it]
    #[arg(long, env = "SYLK_ICE_TCP_PORT", value_name = "PORT")]
    pub ice_tcp_port: Option<u16>,
    /// Offer no ICE-TCP candidates (UDP only)
    #[arg(long, env = "SYLK_NO_ICE_TCP")]
    pub no_ice_tcp: bool,
    /// IP the media sockets bind [default: every address, both families]
    #[arg(long, env = "SYLK_MEDIA_LISTEN", value_name = "IP")]
    pub media_listen: Option<std::net::IpAddr>,
    /// https://host[:port] under which clients reach the gateway, for the URLs it hands out [default: from --listen]
    #[arg(long, env = "SYLK_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Admin API and /metrics listener (plain HTTP) [default: 127.0.0.1:10880]
    #[arg(long, env = "SYLK_ADMIN_LISTEN", value_name = "ADDR:PORT")]
    pub admin_listen: Option<SocketAddr>,
    /// Bearer token of the admin API [default: generated into <data-dir>/admin.token]
    #[arg(
        long,
        env = "SYLK_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Seconds calls and rooms may go on after SIGTERM before they are ended [default: 30]
    #[arg(long, env = "SYLK_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<f64>,
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
    /// Certificate authorities (PEM file) for a SIP proxy over TLS [default: the system's]
    #[arg(long, env = "SYLK_SIP_TLS_CA", value_name = "FILE")]
    pub sip_tls_ca: Option<PathBuf>,
    /// SDES-SRTP toward SIP: disabled, optional or mandatory [default: optional]
    #[arg(long, env = "SYLK_SDES_SRTP", value_name = "MODE")]
    pub sdes_srtp: Option<String>,
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
    /// Domains whose rooms SIP phones may call (`sip:<room>@<domain>`), comma-separated
    #[arg(
        long,
        env = "SYLK_CONFERENCE_DOMAINS",
        value_name = "DOMAINS",
        value_delimiter = ','
    )]
    pub conference_domains: Option<Vec<String>>,
    /// Call addresses invited to a room that have no connection here [default: true]
    #[arg(long, env = "SYLK_ROOM_DIAL_OUT", value_name = "BOOL")]
    pub room_dial_out: Option<bool>,
    /// The message store: postgres://user:password@host:port/db [default: SQLite in data_dir]
    #[arg(long, env = "SYLK_STORAGE_URL", value_name = "URL")]
    pub storage_url: Option<String>,
    /// Redis of a cluster of gateways, redis://host:port/ [default: no cluster]
    #[arg(long, env = "SYLK_CLUSTER_REDIS_URL", value_name = "URL")]
    pub cluster_redis_url: Option<String>,
    /// This node's name in the cluster [default: host name and port]
    #[arg(long, env = "SYLK_CLUSTER_NODE_ID", value_name = "NAME")]
    pub cluster_node_id: Option<String>,
    /// Seconds a dead node's rooms stay held before they are released [default: 10]
    #[arg(long, env = "SYLK_CLUSTER_LEASE", value_name = "SECONDS")]
    pub cluster_lease: Option<f64>,
    /// Opus encoder complexity of the rooms' audio mixes, 0-10 [default: 5]
    #[arg(long, env = "SYLK_MIXER_OPUS_COMPLEXITY", value_name = "N")]
    pub mixer_opus_complexity: Option<i32>,
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
        if let Some(v) = cli.ice_tcp_port {
            cfg.ice_tcp_port = Some(v);
        }
        if cli.no_ice_tcp {
            cfg.ice_tcp = false;
        }
        if let Some(v) = cli.media_listen {
            cfg.media_listen = Some(v);
        }
        if let Some(v) = cli.public_url {
            cfg.public_url = Some(v).filter(|u| !u.trim().is_empty());
        }
        if let Some(v) = cli.admin_listen {
            cfg.admin_listen = v;
        }
        if let Some(v) = cli.admin_token {
            cfg.admin_token = Some(v);
        }
        if let Some(v) = cli.shutdown_grace {
            cfg.shutdown_grace = v;
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
        if let Some(v) = cli.sip_tls_ca {
            cfg.sip_tls_ca = Some(v);
        }
        if let Some(v) = cli.sdes_srtp {
            cfg.sdes_srtp = v;
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
        if let Some(v) = cli.conference_domains {
            cfg.conference_domains = v;
        }
        if let Some(v) = cli.room_dial_out {
            cfg.room_dial_out = v;
        }
        if let Some(v) = cli.mixer_opus_complexity {
            cfg.mixer_opus_complexity = v;
        }
        if let Some(v) = cli.storage_url {
            cfg.storage_url = Some(v).filter(|u| !u.trim().is_empty());
        }
        if let Some(v) = cli.cluster_redis_url {
            cfg.cluster.redis_url = Some(v).filter(|u| !u.trim().is_empty());
        }
        if let Some(v) = cli.cluster_node_id {
            cfg.cluster.node_id = Some(v);
        }
        if let Some(v) = cli.cluster_lease {
            cfg.cluster.lease = v;
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
}
