//! Using a connection: `invoke` sends a script's request to the service with the connection's
//! credentials injected — refreshing OAuth2 tokens first when they are about to expire, and once more
//! when the upstream answers 401 — and answers with every echo of a secret masked.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::activity::Entry;
use actix_web::web::Data;

use crate::domain::connection::Status;
use crate::domain::destinations::Role;
use crate::domain::service::ServiceConfig;
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::injection;
use crate::models::api_token::Scope;
use crate::models::event::NewEvent;
use crate::models::user::User;
use crate::ops::access_tokens::TokenFailure;
use crate::ops::connections::{self as connections, Loaded};
use crate::outbound::{Answer, OutboundError};
use crate::state::AppState;

mod checks;
pub(crate) mod credentials;

pub use checks::{TestResult, test};

/// A script's request, as it sends it to `POST /api/v1/connections/{link}/invoke`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokeRequest {
    pub method: Option<String>,
    pub url: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// A string is sent as is; any other JSON value is sent as JSON.
    pub body: Option<serde_json::Value>,
    /// `body` is base64 (binary uploads).
    #[serde(default)]
    pub body_base64: bool,
    pub timeout_ms: Option<u64>,
}

/// What a script gets back.
#[derive(Debug, Serialize)]
pub struct InvokeAnswer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    /// Text, or base64 when `body_base64` is true (a binary answer).
    pub body: String,
    pub body_base64: bool,
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AppError {
    let mut errors = FieldErrors::new();
    push(&mut errors, field, message);
    AppError::Invalid(errors)
}

/// A connection that is not Connected cannot be used: say what its status is and what to do.
pub fn ensure_connected(loaded: &Loaded) -> Result<(), AppError> {
    let status = loaded.row.status();
    let what = match status {
        Status::Connected => return Ok(()),
        Status::NotConnected => "has not been connected yet: its owner connects it on its page",
        Status::Disconnected => "was revoked: its owner must connect it again",
        Status::NeedsReconnect => "needs to be reconnected: the provider rejected its credentials",
    };
    let reason = loaded.row.status_message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
    Err(AppError::NotConnected {
        status: status.as_str(),
        message: format!("Connection {} {what}{reason}.", loaded.row.link_name),
    })
}

fn token_error(e: TokenFailure) -> AppError {
    match e {
        TokenFailure::NotConnected(s) => AppError::NotConnected {
            status: s.as_str(),
            message: format!("The connection is {}.", s.label()),
        },
        TokenFailure::NeedsReconnect(m) => {
            AppError::NotConnected { status: Status::NeedsReconnect.as_str(), message: m }
        }
        TokenFailure::Unavailable(m) => AppError::Unavailable(m),
        TokenFailure::RateLimited { message, retry_after_secs } => {
            AppError::RateLimited { message, retry_after_secs }
        }
        TokenFailure::App(e) => e,
    }
}

/// The parts of a request that stay the same across the retry after a refresh.
struct Prepared {
    method: reqwest::Method,
    url: url::Url,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

fn prepare(loaded: &Loaded, req: &InvokeRequest) -> Result<Prepared, AppError> {
    let method = req.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .ok()
        .filter(|m| !matches!(m.as_str(), "CONNECT" | "TRACE"))
        .ok_or_else(|| invalid("method", "Use an HTTP method such as GET, POST, PUT, PATCH or DELETE."))?;
    let url = injection::target(loaded.api_base_url()?, req.url.as_deref(), req.path.as_deref())
        .map_err(|(f, m)| invalid(f, m))?;
    let body = match &req.body {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if req.body_base64 => {
            Some(STANDARD.decode(s).map_err(|_| invalid("body", "The body is not valid base64."))?)
        }
        Some(serde_json::Value::String(s)) => Some(s.clone().into_bytes()),
        Some(other) => Some(serde_json::to_vec(other).map_err(|e| AppError::Internal(e.to_string()))?),
    };
    let mut headers: Vec<(String, String)> =
        req.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if matches!(&req.body, Some(v) if !v.is_string() && !v.is_null())
        && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let timeout = Duration::from_millis(req.timeout_ms.unwrap_or(30_000).clamp(1, 60_000));
    Ok(Prepared { method, url, headers: headers.into_iter().collect(), body, timeout })
}

/// Sends one attempt with these credentials.
async fn send(
    state: &AppState,
    p: &Prepared,
    req: &InvokeRequest,
    injected: &[injection::Injection],
) -> Result<Answer, AppError> {
    let caller: BTreeMap<String, String> = p.headers.iter().cloned().collect();
    let headers = injection::caller_headers(&caller, injected).map_err(|m| invalid("headers", m))?;
    let mut url = p.url.clone();
    injection::apply_query(&mut url, &req.query, injected);
    let mut builder = state.outbound.request(p.method.clone(), &url).map_err(outbound_error)?;
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    for i in injected {
        if let injection::Injection::Header(name, value) = i {
            builder = builder.header(name.as_str(), value.expose());
        }
    }
    let content_type =
        p.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
    let body = match injection::form_body(p.body.as_deref(), content_type, injected) {
        Some(Ok(form)) => {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
            Some(form)
        }
        Some(Err(message)) => return Err(invalid("body", message)),
        None => p.body.clone(),
    };
    if let Some(body) = body {
        builder = builder.body(body);
    }
    state.outbound.send(&url, builder, Some(p.timeout)).await.map_err(outbound_error)
}

pub(crate) fn outbound_error(e: OutboundError) -> AppError {
    match e {
        OutboundError::Refused(..) => invalid("url", e.to_string()),
        other => AppError::Upstream(other.to_string()),
    }
}

/// Invokes a connection for `caller` (any SDAdmin: scripts share connections without their secrets)
/// when the caller's token `scope` permits it.
pub async fn invoke(
    state: &Data<AppState>,
    caller: &User,
    scope: &Scope,
    link_name: &str,
    req: InvokeRequest,
) -> Result<InvokeAnswer, AppError> {
    let loaded = connections::load_for_use(state, link_name).await?;
    permitted(scope, &loaded)?;
    run(state, caller, &loaded, req, "invoke").await
}

/// A restricted token's connection is the one it was restricted to, not one deleted and created
/// again under the same link name.
pub(crate) fn permitted(scope: &Scope, loaded: &Loaded) -> Result<(), AppError> {
    if scope.permits_connection(loaded.row.id) { Ok(()) } else { Err(AppError::Forbidden(scope.refusal())) }
}

/// Sends a request through a loaded connection and records it as `kind`.
async fn run(
    state: &Data<AppState>,
    caller: &User,
    loaded: &Loaded,
    req: InvokeRequest,
    kind: &'static str,
) -> Result<InvokeAnswer, AppError> {
    let started = Instant::now();
    ensure_connected(loaded)?;
    let config = loaded.config()?;
    let prepared = prepare(loaded, &req)?;
    crate::ops::entrust::ensure_entrusted(state, &loaded.row, Role::Api, prepared.url.as_str()).await?;
    let mut event = NewEvent {
        kind,
        actor: caller.username.clone(),
        method: Some(prepared.method.to_string()),
        host: prepared.url.host_str().map(str::to_owned),
        path: Some(prepared.url.path().to_owned()),
        request_bytes: Some(prepared.body.as_ref().map_or(0, |b| b.len() as i64)),
        ..NewEvent::default()
    };
    let result = attempt(state, loaded, config, &prepared, &req).await;
    let elapsed = started.elapsed();
    event.latency_ms = elapsed.as_millis() as i64;
    if kind == "invoke" {
        let status = result.as_ref().ok().map(|(answer, _)| answer.status);
        state.metrics.invoked(&loaded.service.link_name, status, elapsed);
    }
    match &result {
        Ok((answer, _)) => {
            event.status = Some(i32::from(answer.status));
            event.ok = answer.status < 400;
            event.response_bytes = Some(answer.body.len() as i64);
        }
        Err(e) => event.message = Some(event_message(e)),
    }
    let (connection_id, at) = (loaded.row.id, state.clock.now());
    let mark_used = loaded.row.last_used_at.is_none_or(|t| at - t >= 60);
    state.activity.record(Entry { connection_id, event, at, mark_used }).await;
    let (answer, secrets) = result?;
    Ok(shape(answer, &secrets))
}

/// What the activity list shows for a failed call: for refused input, the reasons themselves.
pub(crate) fn event_message(e: &AppError) -> String {
    match e {
        AppError::Invalid(fields) => fields.values().flatten().cloned().collect::<Vec<_>>().join(" "),
        other => other.public_message(),
    }
}

/// Credentials, the request, and for OAuth2 one refresh-and-retry on a 401.
async fn attempt(
    state: &Data<AppState>,
    loaded: &Loaded,
    config: &ServiceConfig,
    p: &Prepared,
    req: &InvokeRequest,
) -> Result<(Answer, Vec<String>), AppError> {
    let first = credentials::first(state, loaded, config).await?;
    let answer = send(state, p, req, &first.injected).await?;
    if !token_refused(config, &answer) {
        return Ok((answer, first.secrets));
    }
    // The token was refused: refresh once (unless another request already did) and retry once.
    let Some(fresh) = credentials::after_refusal(state, loaded, config, &first).await else {
        return Ok((answer, first.secrets));
    };
    let mut secrets = first.secrets;
    secrets.extend(fresh.secrets);
    Ok((send(state, p, req, &fresh.injected).await?, secrets))
}

/// Whether an answer says the token was refused: a 401, a status the service lists, or a JSON body
/// matching the service's expiry signal (Slack's HTTP 200 `{"ok":false,"error":"token_expired"}`).
fn token_refused(config: &ServiceConfig, answer: &Answer) -> bool {
    credentials::refused_status(config, answer.status)
        || config.oauth().and_then(|o| o.expired_when.as_ref()).is_some_and(|signal| {
            answer.body.len() <= crate::oauth::MAX_TOKEN_RESPONSE_BYTES
                && serde_json::from_slice::<serde_json::Value>(&answer.body).is_ok_and(|b| signal.matches(&b))
        })
}

/// Masks secrets in headers and body; text stays text, anything else is base64.
fn shape(answer: Answer, secrets: &[String]) -> InvokeAnswer {
    let mut masker = injection::Masker::new(secrets);
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in answer.headers.iter() {
        let value = String::from_utf8_lossy(&masker.whole(value.as_bytes())).into_owned();
        headers.entry(name.as_str().to_owned()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    let body = masker.whole(&answer.body);
    match String::from_utf8(body) {
        Ok(text) => InvokeAnswer { status: answer.status, headers, body: text, body_base64: false },
        Err(e) => InvokeAnswer {
            status: answer.status,
            headers,
            body: STANDARD.encode(e.into_bytes()),
            body_base64: true,
        },
    }
}
