//! The one outbound HTTP client. Every call to a third party (token endpoints, revocation, invoke,
//! the proxy) goes through it: no redirects followed, timeouts, a response-size cap (but for the
//! proxy's streamed answers, see `stream`), no proxy, and an address policy that refuses loopback, private, link-local and other internal targets after DNS
//! resolution, unless `CONNECTIONS_OUTBOUND_ALLOW_CIDRS` lists them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::config::{Cidr, Config};

/// Bodies larger than this are refused (invoke answers, token responses).
pub const MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024;
/// How long a connection to a third party may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for its answer unless its caller says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an outbound request was not made or did not complete. Each says what happened in plain
/// words, then the URL (without its query).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL {0} is not allowed: {1}")]
    Refused(String, String),
    /// What was not done in time ("did not answer within 30 s").
    #[error("the upstream {1} ({0})")]
    Timeout(String, String),
    /// How the connection failed ("connection refused by the upstream").
    #[error("{1} ({0})")]
    Unreachable(String, String),
    #[error("the response from {0} is larger than {1} bytes")]
    TooLarge(String, usize),
}

/// Which addresses outbound calls may reach.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    pub allow: Vec<Cidr>,
    pub allow_http: bool,
}

impl AddressPolicy {
    /// Whether `ip` may be contacted on `port`: public addresses always, internal ones only when an
    /// allow-list entry holds the address and names that port or none.
    pub fn permits(&self, ip: IpAddr, port: u16) -> bool {
        !is_internal(ip) || self.allow.iter().any(|net| net.permits(ip, port))
    }

    /// Whether some allow-list entry names a port: then name resolution depends on the port too.
    fn port_bound(&self) -> bool {
        self.allow.iter().any(Cidr::has_port)
    }

    /// Checks a URL before any connection: scheme, user-info, and a literal IP host.
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        let refuse = |why: &str| Err(OutboundError::Refused(redacted(url), why.to_owned()));
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return refuse("plain http is turned off (CONNECTIONS_OUTBOUND_ALLOW_HTTP)"),
            _ => return refuse("only http(s) URLs can be called"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("URLs with user information are not allowed");
        }
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(Host::Domain(_)) => return Ok(()),
            None => return refuse("the URL has no host"),
        };
        let port = url.port_or_known_default().unwrap_or(0);
        if self.permits(ip, port) {
            Ok(())
        } else {
            refuse("the address is internal (loopback, private or link-local)")
        }
    }
}

/// Loopback, private, link-local, unique-local, carrier-grade NAT, unspecified, broadcast, multicast,
/// documentation and other special-purpose ranges; IPv4-mapped and -compatible IPv6 count as IPv4.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| compatible_v4(v6)) {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn compatible_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    (s[..6] == [0; 6] && v6 != Ipv6Addr::UNSPECIFIED && v6 != Ipv6Addr::LOCALHOST)
        .then(|| Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])))
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || first == 0x2001 && ip.segments()[1] == 0x0db8
        || first == 0x0064 && ip.segments()[1] == 0xff9b
}

/// The URL without its query string (which may carry a secret) for messages and logs.
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// Resolves names with the system resolver and drops every address the policy refuses, so a name
/// that points at an internal address cannot be used to reach it.
///
/// reqwest hands a resolver the name only, never the port. When an allow-list entry names a port,
/// each client therefore serves one port (see `Outbound::client`) and its resolver knows it.
struct PolicyResolver {
    policy: Arc<AddressPolicy>,
    /// The port of every URL this client calls; `None` when no allow-list entry names a port.
    port: Option<u16>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, port) = (self.policy.clone(), self.port.unwrap_or(0));
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|a| policy.permits(a.ip(), port)).collect();
            if allowed.is_empty() {
                let why = if found.is_empty() {
                    "it does not resolve"
                } else {
                    "it resolves to an internal address"
                };
                return Err(format!("the host {host} is not allowed: {why}").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Which client: the worker thread's, and the port it calls when the policy depends on the port.
type ClientKey = (ThreadId, Option<u16>);

/// An answer, with the body read in full (up to the cap).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// The clients and their policy. Cheap to clone.
///
/// One client per thread: each HTTP worker runs its own single-threaded runtime, and a pooled
/// connection's I/O runs as a task on the runtime that opened it. With one client for all, a worker
/// that took another's connection would hand every request to that worker's thread and wait for it
/// to hand the answer back.
///
/// With an allow-list entry that names a port, one client per thread and port: its resolver then
/// checks the resolved addresses against that port.
#[derive(Clone)]
pub struct Outbound {
    clients: Arc<Mutex<HashMap<ClientKey, reqwest::Client>>>,
    pub policy: Arc<AddressPolicy>,
    /// Started with `--no-refresh`: `oauth::token_calls_allowed` refuses every token and revoke call.
    pub no_token_calls: bool,
}

impl Outbound {
    pub fn new(config: &Config) -> Result<Outbound, reqwest::Error> {
        let policy = Arc::new(AddressPolicy {
            allow: config.outbound_allow_cidrs.clone(),
            allow_http: config.outbound_allow_http,
        });
        let outbound = Outbound { clients: Arc::default(), policy, no_token_calls: config.no_refresh };
        // Built once here, so that a configuration the client refuses fails at start-up.
        outbound.client(443)?;
        Ok(outbound)
    }

    /// This thread's client for calls to `port`.
    fn client(&self, port: u16) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (std::thread::current().id(), self.policy.port_bound().then_some(port));
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DEFAULT_TIMEOUT)
            .user_agent(concat!("connections/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PolicyResolver { policy: self.policy.clone(), port: key.1 }))
            .build()?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// A request builder for `url` after the policy's URL checks.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &Url,
    ) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.policy.check_url(url)?;
        let port = url.port_or_known_default().unwrap_or(0);
        let client = self.client(port).map_err(|e| classify(url, e, DEFAULT_TIMEOUT))?;
        Ok(client.request(method, url.clone()))
    }

    /// Sends a request and reads the answer, at most `MAX_RESPONSE_BYTES` of body. A failure is
    /// the third party's, not the app's: a warning, at most one a minute per host (`logs`).
    pub async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<Answer, OutboundError> {
        let answer = self.send_once(url, request, timeout).await;
        if let Err(e) = &answer
            && !matches!(e, OutboundError::Refused(..))
        {
            crate::logs::warn(&format!("upstream {}", url.host_str().unwrap_or_default()), e);
        }
        answer
    }

    async fn send_once(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<Answer, OutboundError> {
        // Written out only for an error, not on every request.
        let shown = || redacted(url);
        let request = match timeout {
            Some(t) => request.timeout(t),
            None => request,
        };
        let waited = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut response = request.send().await.map_err(|e| classify(url, e, waited))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(OutboundError::TooLarge(shown(), MAX_RESPONSE_BYTES));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(url, e, waited))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(OutboundError::TooLarge(shown(), MAX_RESPONSE_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, headers, body })
    }
}

/// Turns reqwest's error into our own words; the policy's refusal keeps its reason. `waited` is
/// the request's timeout.
fn classify(url: &Url, e: reqwest::Error, waited: Duration) -> OutboundError {
    let shown = redacted(url);
    if e.is_timeout() {
        let what = match e.is_connect() {
            true => format!("accepted no connection within {}", seconds(CONNECT_TIMEOUT)),
            false => format!("did not answer within {}", seconds(waited)),
        };
        return OutboundError::Timeout(shown, what);
    }
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = source {
        let text = err.to_string();
        if let Some((_, why)) = text.split_once("is not allowed: ") {
            return OutboundError::Refused(shown, why.to_owned());
        }
        source = err.source();
    }
    let host = url.host_str().unwrap_or_default();
    OutboundError::Unreachable(shown, failure(&e, host, e.is_connect() && url.scheme() == "https"))
}

/// What went wrong with a connection to the upstream, in plain words, from an error's chain of
/// causes. `tls` says that a TLS handshake was due once the TCP connection stood.
fn failure(e: &(dyn std::error::Error + 'static), host: &str, tls: bool) -> String {
    use std::io::ErrorKind;
    let mut chain = Vec::new();
    let mut source = Some(e);
    while let Some(err) = source {
        chain.push(err);
        source = err.source();
    }
    let kind = chain.iter().find_map(|err| err.downcast_ref::<std::io::Error>()).map(std::io::Error::kind);
    let says = |what: &str| chain.iter().any(|err| err.to_string().contains(what));
    let innermost = chain.last().map_or_else(String::new, |err| err.to_string());
    match kind {
        Some(ErrorKind::ConnectionRefused) => return "connection refused by the upstream".into(),
        Some(ErrorKind::ConnectionReset) => return "connection reset by the upstream".into(),
        Some(ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof) if !tls => {
            return "the upstream closed the connection".into();
        }
        Some(ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable) => {
            return "no route to the upstream".into();
        }
        _ => {}
    }
    if says("dns error") {
        return format!("the name {host} does not resolve");
    }
    if says("connection closed before message completed") {
        return "the upstream closed the connection before answering".into();
    }
    // The TCP connection stood (its failure says "tcp connect error"): the handshake failed.
    if tls && !says("tcp connect error") {
        return format!("TLS handshake failed: {innermost}");
    }
    format!("the request to the upstream failed: {innermost}")
}

/// A duration as people read it: "200 ms", "5 s", "2.5 s".
fn seconds(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        _ => format!("{:.1} s", d.as_secs_f64()),
    }
}

mod stream;

pub use stream::body_failure;

#[cfg(test)]
mod tests;
