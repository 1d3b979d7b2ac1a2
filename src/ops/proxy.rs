//! The transparent proxy: `ANY /api/v1/connections/{link}/proxy/{path…}` sends the caller's request
//! as it came — method, path, query, headers and body — to the service's API base URL joined with
//! `path`, with the connection's credentials injected, and streams the upstream's answer back as it
//! came. What invoke does, with its building blocks (confinement, address policy, entrusted
//! destinations, injection, token refresh, echo masking, activity), without the JSON envelope and
//! without holding either body in memory.
//!
//! The replay rule: after the upstream refused an OAuth2 token, the token is refreshed once, and the
//! request is sent again only when its body is held whole (empty, or at most `REPLAY_LIMIT`).
//! A longer body went out as it streamed and is gone: the 401 goes back to the caller with
//! `Connections-Token-Refreshed: true`, and sending the request again uses the new token.

mod answer;
mod body;
mod headers;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use actix_web::web::{self, Data};

pub use answer::AnswerBody;
pub use body::REPLAY_LIMIT;

use self::answer::Pending;
use self::body::{Outgoing, Progress};
use crate::activity::Entry;
use crate::domain::destinations::Role;
use crate::domain::service::ServiceConfig;
use crate::error::AppError;
use crate::injection::{self, Injection, Masker};
use crate::models::api_token::Scope;
use crate::models::event::NewEvent;
use crate::models::user::User;
use crate::ops::connections::{self, Loaded};
use crate::ops::invoke::credentials::{self, Attempt};
use crate::ops::invoke::{ensure_connected, event_message, invalid, permitted};
use crate::outbound::OutboundError;
use crate::state::AppState;

/// The header that tells the caller its request was refused with a token that has since been
/// refreshed: sending it again uses the new one.
pub const TOKEN_REFRESHED: &str = "connections-token-refreshed";

/// The caller's request, as the handler hands it over.
pub struct ProxyRequest {
    pub method: reqwest::Method,
    /// What follows `/proxy` in the request's path, as sent (still percent-encoded).
    pub path: String,
    /// The query string as sent, without `?`.
    pub query: String,
    /// Every header line, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: web::Payload,
}

/// The answer for the caller.
pub struct Proxied {
    pub status: u16,
    /// Every header line to send, in order (`Content-Length` aside).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body's exact length when it passes unchanged and the upstream declared it.
    pub length: Option<u64>,
    pub body: AnswerBody,
}

/// Proxies `req` through connection `link_name` for `caller`, when the caller's token `scope`
/// permits it.
pub async fn proxy(
    state: &Data<AppState>,
    caller: &User,
    scope: &Scope,
    link_name: &str,
    req: ProxyRequest,
) -> Result<Proxied, AppError> {
    let started = Instant::now();
    let loaded = connections::load_for_use(state, link_name).await?;
    permitted(scope, &loaded)?;
    ensure_connected(&loaded)?;
    let config = loaded.config()?;
    let url = target(&loaded, &req)?;
    crate::ops::entrust::ensure_entrusted(state, &loaded.row, Role::Api, url.as_str()).await?;
    let mut entry = Entry {
        connection_id: loaded.row.id,
        event: NewEvent {
            kind: "proxy",
            actor: caller.username.clone(),
            method: Some(req.method.to_string()),
            host: url.host_str().map(str::to_owned),
            path: Some(url.path().to_owned()),
            ..NewEvent::default()
        },
        at: state.clock.now(),
        mark_used: loaded.row.last_used_at.is_none_or(|t| state.clock.now() - t >= 60),
    };
    let sent = Arc::new(Progress::default());
    let result = exchange(state, &loaded, config, url, req, &sent).await;
    let elapsed = started.elapsed();
    let status = result.as_ref().ok().map(|e| e.response.status().as_u16());
    state.metrics.proxied(&loaded.service.link_name, status, elapsed);
    entry.event.latency_ms = elapsed.as_millis() as i64;
    let exchanged = match result {
        Ok(exchanged) => exchanged,
        Err(e) => {
            entry.event.message = Some(event_message(&e));
            entry.event.request_bytes = Some(sent.bytes.load(Relaxed) as i64);
            state.activity.record(entry).await;
            return Err(e);
        }
    };
    Ok(answer(state, exchanged, entry, sent))
}

/// The URL the request goes to: its path and query under the service's API base URL.
fn target(loaded: &Loaded, req: &ProxyRequest) -> Result<url::Url, AppError> {
    let path = if req.path.is_empty() { "/" } else { req.path.as_str() };
    let path = if req.query.is_empty() { path.to_owned() } else { format!("{path}?{}", req.query) };
    injection::target(loaded.api_base_url()?, None, Some(&path))
        .map_err(|(field, message)| invalid(field, message))
}

/// The upstream's answer to the last attempt, and what its body needs.
struct Exchanged {
    response: reqwest::Response,
    /// Every form of every secret sent: none may come back.
    secrets: Vec<String>,
    /// The token was refused and refreshed, but the body could not be sent again.
    refreshed: bool,
    /// A HEAD request: the answer has no body, whatever length it declares.
    head: bool,
}

/// The request, and for OAuth2 one refresh after a refused token (and one retry when the body can
/// be sent again).
async fn exchange(
    state: &Data<AppState>,
    loaded: &Loaded,
    config: &ServiceConfig,
    url: url::Url,
    req: ProxyRequest,
    sent: &Arc<Progress>,
) -> Result<Exchanged, AppError> {
    let timeout = Duration::from_secs(state.config.proxy_timeout_secs);
    let length = declared_length(&req.headers);
    let mut outgoing = Outgoing::read(req.body, length, sent).await?;
    let call = Call { state, url: &url, method: &req.method, headers: &req.headers, timeout, sent };
    let first = credentials::first(state, loaded, config).await?;
    let head = req.method == reqwest::Method::HEAD;
    let response = call.send(&mut outgoing, &first).await?;
    if !credentials::refused_status(config, response.status().as_u16()) {
        return Ok(Exchanged { response, secrets: first.secrets, refreshed: false, head });
    }
    let Some(fresh) = credentials::after_refusal(state, loaded, config, &first).await else {
        return Ok(Exchanged { response, secrets: first.secrets, refreshed: false, head });
    };
    let mut secrets = first.secrets;
    secrets.extend(fresh.secrets.iter().cloned());
    if !outgoing.replayable() {
        return Ok(Exchanged { response, secrets, refreshed: true, head });
    }
    drop(response);
    let response = call.send(&mut outgoing, &fresh).await?;
    Ok(Exchanged { response, secrets, refreshed: false, head })
}

/// The `Content-Length` the caller declared, if any.
fn declared_length(headers: &[(String, Vec<u8>)]) -> Option<u64> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| std::str::from_utf8(value).ok()?.trim().parse().ok())
}

/// What stays the same across the attempts of one call.
struct Call<'a> {
    state: &'a AppState,
    url: &'a url::Url,
    method: &'a reqwest::Method,
    headers: &'a [(String, Vec<u8>)],
    timeout: Duration,
    sent: &'a Arc<Progress>,
}

impl Call<'_> {
    /// Sends one attempt with `credentials` and waits for the answer's head.
    async fn send(
        &self,
        outgoing: &mut Outgoing,
        credentials: &Attempt,
    ) -> Result<reqwest::Response, AppError> {
        let injected = &credentials.injected;
        let mut url = self.url.clone();
        injection::apply_query(&mut url, &Default::default(), injected);
        let mut builder = self.state.outbound.request(self.method.clone(), &url).map_err(outbound_error)?;
        for (name, value) in headers::outgoing(self.headers, injected) {
            builder = builder.header(name, value);
        }
        for i in injected {
            if let Injection::Header(name, value) = i {
                builder = builder.header(name.as_str(), value.expose());
            }
        }
        let mut streamed = false;
        if injected.iter().any(|i| matches!(i, Injection::Form(..))) {
            let form = form(outgoing, self.headers, injected)?;
            builder = builder.header("content-type", "application/x-www-form-urlencoded").body(form);
        } else if let Some(body) = outgoing.next_body(self.sent, self.timeout) {
            streamed = matches!(outgoing, Outgoing::Spent);
            builder = builder.body(body);
        }
        let body_sent = async {
            if streamed {
                self.sent.ended().await;
            }
        };
        let opened = self.state.outbound.open(&url, builder, self.timeout, body_sent).await;
        let (failed, stalled) = (self.sent.failed.load(Relaxed), self.sent.stalled.load(Relaxed));
        match opened {
            Ok(response) => Ok(response),
            // The caller's body broke off or stalled, not the upstream.
            Err(_) if failed => Err(AppError::BodyTimeout),
            Err(_) if stalled => Err(AppError::UpstreamTimeout(format!(
                "The upstream took none of the request body for {} s ({}).",
                self.timeout.as_secs(),
                crate::outbound::redacted(&url)
            ))),
            Err(e) => Err(outbound_error(e)),
        }
    }
}

/// A service that sends its key as form data: the caller's form with the key merged in, which needs
/// the caller's body whole.
fn form(
    outgoing: &Outgoing,
    headers: &[(String, Vec<u8>)],
    injected: &[Injection],
) -> Result<Vec<u8>, AppError> {
    let Outgoing::Whole(bytes) = outgoing else {
        return Err(invalid(
            "body",
            format!(
                "This service sends its API key as form data, which the proxy merges into bodies of at most \
                 {} KiB.",
                REPLAY_LIMIT / 1024
            ),
        ));
    };
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, value)| std::str::from_utf8(value).ok());
    let caller = (!bytes.is_empty()).then_some(&bytes[..]);
    match injection::form_body(caller, content_type, injected) {
        Some(Ok(form)) => Ok(form),
        Some(Err(message)) => Err(invalid("body", message)),
        None => Ok(bytes.to_vec()),
    }
}

/// The proxy is the caller's gateway: an upstream that does not answer in time is a 504.
fn outbound_error(e: OutboundError) -> AppError {
    match e {
        OutboundError::Timeout(..) => AppError::UpstreamTimeout(e.to_string()),
        other => crate::ops::invoke::outbound_error(other),
    }
}

/// The caller's answer: the upstream's status and headers (filtered and masked), its body streamed.
fn answer(state: &Data<AppState>, exchanged: Exchanged, mut entry: Entry, sent: Arc<Progress>) -> Proxied {
    let Exchanged { response, secrets, refreshed, head } = exchanged;
    let status = response.status().as_u16();
    entry.event.status = Some(i32::from(status));
    entry.event.ok = status < 400;
    let mut masker = Masker::new(&secrets);
    let mut headers = headers::incoming(response.headers(), &mut masker);
    if refreshed {
        headers.push((TOKEN_REFRESHED.to_owned(), b"true".to_vec()));
    }
    let masker = headers::textual(response.headers()).then_some(masker);
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    // A text may change length as it is masked; a HEAD answer keeps the length it declares.
    let length = declared.filter(|_| masker.is_none() || head);
    let idle = Duration::from_secs(state.config.proxy_timeout_secs);
    let pending = Pending { activity: state.activity.clone(), entry, sent };
    let body = AnswerBody::new(reqwest::Body::from(response), masker, idle, pending);
    let body = if head || matches!(status, 204 | 304) { body.none() } else { body };
    Proxied { status, headers, length, body }
}
