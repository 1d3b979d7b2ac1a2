//! Every setting of the server in one place: the `serve` flags, their environment variables and defaults,
//! resolved into a `Config` that `app::build` takes. Tests build a `Config` directly. The log settings
//! (`CONNECTIONS_LOG_FORMAT`, `RUST_LOG`) apply to every command, and `logs::init` reads them.

use std::net::IpAddr;
use std::path::PathBuf;

use url::Url;

use crate::clock::Clock;
use crate::crypto::Secret;
use crate::db::Backend;

/// `connections serve` flags. Each also reads an environment variable; the README's table mirrors this.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CONNECTIONS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// `sqlite://path/to/file.db` (the folder is created) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/connections.db")]
    pub database_url: String,

    /// The portal's public URL (default `http://<bind>`); seeds the alias URL setting.
    #[arg(long, env = "CONNECTIONS_BASE_URL")]
    pub base_url: Option<String>,

    /// Folder for the generated key file (and the SQLite database by default).
    #[arg(long, env = "CONNECTIONS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Keyring for secrets at rest: `kid:base64(32 bytes)`, comma-separated, the first one active.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS", hide_env_values = true)]
    pub encryption_keys: Option<String>,

    /// A file holding the keyring in the same format (used when CONNECTIONS_ENCRYPTION_KEYS is unset).
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_FILE")]
    pub encryption_keys_file: Option<PathBuf>,

    /// A command (run with `sh -c`) whose standard output is the keyring, e.g. a secrets manager's CLI.
    /// It replaces the two settings above: setting it with either is refused.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_COMMAND", hide_env_values = true)]
    pub encryption_keys_command: Option<String>,

    /// Seconds the keyring command may run before it is stopped and start-up fails.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_COMMAND_TIMEOUT_SECS", default_value_t = 30)]
    pub encryption_keys_command_timeout_secs: u32,

    /// How often a running instance reads its key file or runs its keyring command again, to take up
    /// a rotated keyring without a restart (0: never).
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS", default_value_t = 60)]
    pub encryption_keys_reload_secs: u32,

    /// Comma-separated CIDRs that outbound calls may reach even though they are private or loopback,
    /// each optionally limited to one port: `127.0.0.1:8081`, `[::1]:8081`, `10.0.0.0/8:443`.
    #[arg(long, env = "CONNECTIONS_OUTBOUND_ALLOW_CIDRS", default_value = "")]
    pub outbound_allow_cidrs: String,

    /// Allow plain-http service URLs and outbound calls.
    #[arg(
        long,
        env = "CONNECTIONS_OUTBOUND_ALLOW_HTTP",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub outbound_allow_http: bool,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "CONNECTIONS_SESSION_IDLE_MINUTES", default_value_t = 60)]
    pub session_idle_minutes: u32,

    /// Hours after sign-in after which a session ends regardless of activity.
    #[arg(long, env = "CONNECTIONS_SESSION_ABSOLUTE_HOURS", default_value_t = 12)]
    pub session_absolute_hours: u32,

    /// Refresh an OAuth2 access token when it expires within this many seconds.
    #[arg(long, env = "CONNECTIONS_REFRESH_MARGIN_SECS", default_value_t = 60)]
    pub refresh_margin_secs: u32,

    /// How often the background task refreshes tokens about to expire (0 turns it off).
    #[arg(long, env = "CONNECTIONS_REFRESH_INTERVAL_SECS", default_value_t = 30)]
    pub refresh_interval_secs: u32,

    /// Token requests one service may have in flight from this instance (background and on-demand
    /// refreshes alike).
    #[arg(long, env = "CONNECTIONS_REFRESH_CONCURRENCY_PER_SERVICE", default_value_t = 4)]
    pub refresh_concurrency_per_service: u32,

    /// Seconds a request's body may take to arrive in full after its head (then 408).
    #[arg(long, env = "CONNECTIONS_REQUEST_BODY_TIMEOUT_SECS", default_value_t = 15)]
    pub request_body_timeout_secs: u32,

    /// Seconds the proxy waits for the upstream's answer to begin, and then for each next piece of
    /// a body either way (then 504, or the transfer is cut).
    #[arg(long, env = "CONNECTIONS_PROXY_TIMEOUT_SECS", default_value_t = 30)]
    pub proxy_timeout_secs: u32,

    /// Seconds a request waits for a database connection (and SQLite for its write lock) before it
    /// answers 503; it waits at most twice as long for the database's answer.
    #[arg(long, env = "CONNECTIONS_DATABASE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_timeout_secs: u32,

    /// Never call a token or revoke endpoint (a restored copy beside the original: see the README).
    #[arg(long, env = "CONNECTIONS_NO_REFRESH")]
    pub no_refresh: bool,

    /// Seconds a stopping server (SIGTERM, Ctrl-C) lets requests in flight finish.
    #[arg(long, env = "CONNECTIONS_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u32,

    /// HTTP worker threads (default: one per core; two per core on PostgreSQL).
    #[arg(long, env = "CONNECTIONS_WORKERS")]
    pub workers: Option<usize>,

    /// The bearer token a Prometheus scraper sends to `GET /metrics` (at least 16 characters);
    /// without one, `/metrics` answers 404.
    #[arg(long, env = "CONNECTIONS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

/// The shortest metrics token accepted: a guessable one would expose the service names.
const MIN_METRICS_TOKEN: usize = 16;

/// One worker per core; two on PostgreSQL, where a worker waits for each round trip to the server
/// (the connection is blocking) and a second one keeps the core busy meanwhile. On SQLite a worker
/// waits for no server, and more workers than cores would only compete for them.
fn default_workers(database_url: &str) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    match Backend::of(database_url) {
        Backend::Postgres => cores * 2,
        Backend::Sqlite => cores,
    }
}

/// The resolved configuration `app::build` runs with.
#[derive(Clone)]
pub struct Config {
    pub bind: String,
    pub database_url: String,
    /// `None`: `http://<the bound address>` (tests bind port 0 and learn the port only then).
    pub base_url: Option<Url>,
    pub data_dir: PathBuf,
    pub admin_password: Option<Secret>,
    pub encryption_keys: Option<Secret>,
    pub encryption_keys_file: Option<PathBuf>,
    /// A `Secret`: a command line may carry a token for the secrets manager.
    pub encryption_keys_command: Option<Secret>,
    pub encryption_keys_command_timeout_secs: u64,
    /// 0: the keyring is read at start only (see `keys::reload`).
    pub encryption_keys_reload_secs: u64,
    pub outbound_allow_cidrs: Vec<Cidr>,
    pub outbound_allow_http: bool,
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
    pub workers: usize,
    pub refresh_margin_secs: i64,
    /// 0: no background refresh (tests drive refreshes themselves).
    pub refresh_interval_secs: u64,
    /// At most this many token requests in flight per service (see `refresher::ProviderLimits`).
    pub refresh_concurrency_per_service: usize,
    /// How often the webhook worker looks for due deliveries; 0: never (tests send them themselves).
    pub webhook_interval_secs: u64,
    /// How long a request's body may take to arrive after its head (see `body_deadline`).
    pub request_body_timeout_secs: u64,
    /// How long the proxy waits for an upstream's answer to begin and for each piece of a body
    /// (see `ops::proxy`); it replaces the body deadline for proxied request bodies.
    pub proxy_timeout_secs: u64,
    /// How long a request waits for a database connection (see `db::Db::connect_within`).
    pub database_timeout_secs: u64,
    /// No calls to token or revoke endpoints at all (`oauth::token_calls_allowed`), and no background
    /// refresh.
    pub no_refresh: bool,
    /// How long a stopping server lets requests in flight finish (see `shutdown`).
    pub shutdown_grace_secs: u64,
    /// What a scraper must send to `GET /metrics`; `None`: no metrics endpoint.
    pub metrics_token: Option<Secret>,
    pub clock: Clock,
}

/// A bad setting, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name, reason: reason.into() }
}

impl Config {
    /// Resolves flags and the environment-only settings into a `Config`.
    pub fn from_args(args: ServeArgs) -> Result<Config, ConfigError> {
        crate::db::check_url(&args.database_url).map_err(|why| invalid("DATABASE_URL", why))?;
        let mut config = Config::new(&args.database_url, args.data_dir, &args.bind);
        config.base_url = args.base_url.as_deref().map(parse_base_url).transpose()?;
        config.admin_password = std::env::var("CONNECTIONS_ADMIN_PASSWORD").ok().map(Secret::new);
        config.encryption_keys = args.encryption_keys.map(Secret::new);
        config.encryption_keys_file = args.encryption_keys_file;
        config.encryption_keys_command = args.encryption_keys_command.map(Secret::new);
        if args.encryption_keys_command_timeout_secs == 0 {
            return Err(invalid("CONNECTIONS_ENCRYPTION_KEYS_COMMAND_TIMEOUT_SECS", "must be at least 1"));
        }
        config.encryption_keys_command_timeout_secs = u64::from(args.encryption_keys_command_timeout_secs);
        config.encryption_keys_reload_secs = u64::from(args.encryption_keys_reload_secs);
        config.outbound_allow_cidrs = Cidr::parse_list(&args.outbound_allow_cidrs)?;
        config.outbound_allow_http = args.outbound_allow_http;
        if args.session_idle_minutes == 0 || args.session_absolute_hours == 0 {
            return Err(invalid("session timeout", "must be at least 1"));
        }
        config.session_idle_secs = i64::from(args.session_idle_minutes) * 60;
        config.session_absolute_secs = i64::from(args.session_absolute_hours) * 3600;
        config.refresh_margin_secs = i64::from(args.refresh_margin_secs);
        config.refresh_interval_secs = u64::from(args.refresh_interval_secs);
        if !(1..=256).contains(&args.refresh_concurrency_per_service) {
            return Err(invalid("CONNECTIONS_REFRESH_CONCURRENCY_PER_SERVICE", "must be between 1 and 256"));
        }
        config.refresh_concurrency_per_service = args.refresh_concurrency_per_service as usize;
        if args.request_body_timeout_secs == 0 {
            return Err(invalid("request body timeout", "must be at least 1 second"));
        }
        config.request_body_timeout_secs = u64::from(args.request_body_timeout_secs);
        if args.proxy_timeout_secs == 0 {
            return Err(invalid("proxy timeout", "must be at least 1 second"));
        }
        config.proxy_timeout_secs = u64::from(args.proxy_timeout_secs);
        if args.database_timeout_secs == 0 {
            return Err(invalid("database timeout", "must be at least 1 second"));
        }
        config.database_timeout_secs = u64::from(args.database_timeout_secs);
        config.no_refresh = args.no_refresh;
        config.shutdown_grace_secs = u64::from(args.shutdown_grace_secs);
        config.metrics_token = match args.metrics_token.map(Secret::new) {
            Some(token) if token.expose().trim().is_empty() => None,
            Some(token) if token.expose().len() < MIN_METRICS_TOKEN => {
                return Err(invalid(
                    "CONNECTIONS_METRICS_TOKEN",
                    format!("must be at least {MIN_METRICS_TOKEN} characters"),
                ));
            }
            token => token,
        };
        if let Some(w) = args.workers {
            config.workers = w.clamp(1, 64);
        }
        Ok(config)
    }

    /// Defaults for everything but the database, data folder and bind address.
    pub fn new(database_url: &str, data_dir: PathBuf, bind: &str) -> Config {
        Config {
            bind: bind.to_owned(),
            database_url: database_url.to_owned(),
            base_url: None,
            data_dir,
            admin_password: None,
            encryption_keys: None,
            encryption_keys_file: None,
            encryption_keys_command: None,
            encryption_keys_command_timeout_secs: 30,
            encryption_keys_reload_secs: 60,
            outbound_allow_cidrs: Vec::new(),
            outbound_allow_http: false,
            session_idle_secs: 3600,
            session_absolute_secs: 12 * 3600,
            workers: default_workers(database_url),
            refresh_margin_secs: 60,
            refresh_interval_secs: 30,
            refresh_concurrency_per_service: 4,
            webhook_interval_secs: 2,
            // The largest body accepted (256 KiB) arrives within it at 20 KB/s.
            request_body_timeout_secs: 15,
            proxy_timeout_secs: 30,
            database_timeout_secs: crate::db::DEFAULT_WAIT.as_secs(),
            no_refresh: false,
            shutdown_grace_secs: 30,
            metrics_token: None,
            clock: Clock::system(),
        }
    }
}

/// Parses and checks a base or alias URL: absolute http(s), with a host and no user information.
pub fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid("base URL", format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("base URL", format!("{raw:?} must be an absolute http(s) URL")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("base URL", "must not contain user information"));
    }
    Ok(url)
}

/// An IP network such as `127.0.0.0/8` or `::1/128`, optionally limited to one port
/// (`127.0.0.1:8081`, `[::1]:8081`, `10.0.0.0/8:443`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
    /// `None`: any port.
    port: Option<u16>,
}

impl Cidr {
    /// Parses `network[:port]`: the network is `a.b.c.d/n`, `v6/n` or a bare address (a single host);
    /// with a port, an IPv6 network is written in brackets (`[::1]:8081`, `[fd00::]/8:443`).
    pub fn parse(raw: &str) -> Result<Cidr, ConfigError> {
        let bad = |why: &str| invalid("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", format!("{raw:?}: {why}"));
        let (network, port) = match raw.strip_prefix('[') {
            Some(rest) => {
                let (inside, after) = rest.split_once(']').ok_or_else(|| bad("a [ without its ]"))?;
                // `[v6]/n:port` or `[v6/n]:port`: the prefix may stand on either side of the bracket.
                let (prefix, port) = match after.split_once(':') {
                    Some((prefix, port)) => (prefix, Some(port)),
                    None => (after, None),
                };
                if !(prefix.is_empty() || prefix.starts_with('/'))
                    || (inside.contains('/') && !prefix.is_empty())
                {
                    return Err(bad("write [address]/prefix:port"));
                }
                (format!("{inside}{prefix}"), port)
            }
            // More than one colon: a bare IPv6 network, which cannot name a port without brackets.
            None if raw.matches(':').count() > 1 => (raw.to_owned(), None),
            None => match raw.split_once(':') {
                Some((network, port)) => (network.to_owned(), Some(port)),
                None => (raw.to_owned(), None),
            },
        };
        let (addr, prefix) = match network.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (network.as_str(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| bad("bad prefix length"))?,
            None => max,
        };
        let port = match port {
            Some(p) => {
                Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("bad port (1 to 65535)"))?)
            }
            None => None,
        };
        Ok(Cidr { addr, prefix, port })
    }

    /// Parses a comma-separated list; blank entries are ignored.
    pub fn parse_list(raw: &str) -> Result<Vec<Cidr>, ConfigError> {
        raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Cidr::parse).collect()
    }

    /// Whether this entry lets a call reach `ip` on `port`: the address inside the network, and the
    /// entry's port, if it names one.
    pub fn permits(&self, ip: IpAddr, port: u16) -> bool {
        self.contains(ip) && self.port.is_none_or(|p| p == port)
    }

    /// Whether this entry names a port.
    pub fn has_port(&self) -> bool {
        self.port.is_some()
    }

    /// Whether `ip` lies inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
