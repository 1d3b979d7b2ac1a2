//! OAuth 2.0 client: the authorization URL (state + PKCE S256), the token endpoint (code exchange,
//! refresh, client credentials) with the service's client authentication, and RFC 7009 revocation.
//! Written on the outbound client rather than the `oauth2` crate: see the README's design notes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use url::Url;

use crate::crypto::Secret;
use crate::domain::provider::RequestFormat;
use crate::domain::service::{ClientAuth, OAuthConfig};
use crate::injection::Injection;
use crate::outbound::{Outbound, OutboundError};

const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Tokens from a token endpoint. Secrets stay wrapped.
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<i64>,
    /// Seconds until the refresh token expires, when the provider says (GitHub, Google).
    pub refresh_token_expires_in: Option<i64>,
    /// The granted scope, as the provider wrote it (absent: as requested).
    pub scope: Option<String>,
    /// The service's token-response captured values present in the answer (`domain::captures`):
    /// each the value to keep, or why it is refused.
    pub captured: Vec<(String, Result<String, String>)>,
}

/// Why a token request failed, sorted by what the caller should do about it. Only a dead grant
/// ends a connection's tokens: anything that may pass (a provider's 5xx, a 429, a timeout, an error
/// code it may not mean for good) keeps them.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `invalid_grant`: the refresh token or code is dead at the provider; the owner must reconnect.
    #[error("the provider refused: {error}{}", detail(description))]
    InvalidGrant { error: String, description: Option<String> },
    /// `invalid_client` or `unauthorized_client`: the provider refuses the service's client
    /// credentials. Every connection of the service is affected; their tokens stay.
    #[error("the provider refused: {error}{}", detail(description))]
    ClientRefused { error: String, description: Option<String> },
    /// The provider limits token requests: HTTP 429, or 503 with `Retry-After`. Every token request
    /// of the service waits (`Retry-After`, or a backoff when it says nothing); the connection is
    /// not failing.
    #[error("the token endpoint answered HTTP {status}{}", waited(retry_after))]
    RateLimited { status: u16, retry_after: Option<RetryAfter> },
    /// Any other answer, a timeout or a network failure: try again later.
    #[error("the provider could not be reached or failed: {0}")]
    Transient(String),
    /// The request was not made (the outbound policy refused it).
    #[error("{0}")]
    NotSent(String),
    /// Not made: this instance runs with `--no-refresh`.
    #[error(
        "This instance runs with token refreshes off (--no-refresh): it calls no token or revoke endpoint, \
         so that it cannot spend the tokens of the instance it was restored from. No new token can be had \
         here."
    )]
    Off,
}

fn waited(retry_after: &Option<RetryAfter>) -> String {
    match retry_after {
        Some(wait) => format!(" (too many requests; Retry-After {wait})"),
        None => " (too many requests)".to_owned(),
    }
}

fn detail(description: &Option<String>) -> String {
    description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

/// Whether this instance may call token and revoke endpoints: not when it was started with
/// `--no-refresh` (a restored copy beside the original, whose rotated refresh tokens die when the copy
/// spends them). Every token and revoke request passes here first.
pub fn token_calls_allowed(out: &Outbound) -> Result<(), TokenError> {
    if out.no_token_calls { Err(TokenError::Off) } else { Ok(()) }
}

impl From<OutboundError> for TokenError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Refused(..) => TokenError::NotSent(e.to_string()),
            other => TokenError::Transient(other.to_string()),
        }
    }
}

/// A resolved endpoint that still names `{value}`: a captured value its connection has none of
/// (`models::connection::resolve`). Nothing is sent there.
fn not_pending(endpoint: &str) -> Result<(), TokenError> {
    match crate::models::connection::unresolved(endpoint) {
        Some(name) => Err(TokenError::NotSent(format!(
            "the endpoint names {{{name}}}, which the provider has not returned to this connection: reconnect it"
        ))),
        None => Ok(()),
    }
}

/// A PKCE verifier (43 characters, 256 bits) and its S256 challenge.
pub fn pkce_pair() -> Result<(Secret, String), crate::error::AppError> {
    let verifier = crate::random::random_urlsafe(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Ok((Secret::new(verifier), challenge))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn enc(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Joins scopes for the `scope` parameter, encoded: space → `%20`, plus → a literal `+`, comma → `%2C`.
fn encoded_scope(scopes: &[String], delimiter: &str) -> String {
    let joiner = match delimiter {
        "+" => "+",
        "," => "%2C",
        _ => "%20",
    };
    scopes.iter().map(|s| enc(s)).collect::<Vec<_>>().join(joiner)
}

/// The provider's consent URL for an authorization-code flow.
pub fn authorize_url(
    cfg: &OAuthConfig,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    challenge: Option<&str>,
) -> Result<Url, TokenError> {
    let base = cfg
        .authorization_url
        .as_deref()
        .ok_or_else(|| TokenError::NotSent("the service has no authorization URL".into()))?;
    let mut url = Url::parse(base).map_err(|e| TokenError::NotSent(format!("authorization URL: {e}")))?;
    let mut query = url.query().map(str::to_owned).unwrap_or_default();
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("{}={v}", enc(k)));
    };
    add("response_type", "code");
    add("client_id", &enc(&cfg.client_id));
    add("redirect_uri", &enc(redirect_uri));
    if !scopes.is_empty() {
        add("scope", &encoded_scope(scopes, &cfg.scope_delimiter));
    }
    add("state", &enc(state));
    if let Some(challenge) = challenge {
        add("code_challenge", &enc(challenge));
        add("code_challenge_method", "S256");
    }
    for (k, v) in &cfg.extra_auth_params {
        add(k, &enc(v));
    }
    url.set_query(Some(&query));
    Ok(url)
}

/// Form fields of a token request that carry a secret.
const SECRET_FIELDS: &[&str] = &["refresh_token", "code", "code_verifier", "client_secret", "token"];

/// POSTs a token request with the service's client authentication and reads the answer. Text the
/// provider sends back is shown to people and stored: every secret the request carried is masked
/// in it, however it is echoed.
pub async fn token_request(
    out: &Outbound,
    cfg: &OAuthConfig,
    endpoint: &str,
    client_secret: Option<&Secret>,
    mut form: Vec<(&'static str, String)>,
) -> Result<TokenSet, TokenError> {
    token_calls_allowed(out)?;
    not_pending(endpoint)?;
    let url = Url::parse(endpoint).map_err(|e| TokenError::NotSent(format!("token URL: {e}")))?;
    let request = out.request(reqwest::Method::POST, &url)?.header("accept", "application/json");
    let (request, authorization) = authenticate(request, &mut form, cfg, client_secret);
    let sent = sent_secrets(&form, authorization);
    let request = match cfg.token_request_format {
        RequestFormat::Form => request.form(&form),
        RequestFormat::Json => {
            let body: serde_json::Map<String, serde_json::Value> =
                form.iter().map(|(k, v)| ((*k).to_owned(), v.clone().into())).collect();
            request.json(&body)
        }
    };
    let answer = out.send(&url, request, Some(TOKEN_TIMEOUT)).await?;
    if let Some(limited) = answer::rate_limited(answer.status, &answer.headers) {
        return Err(limited);
    }
    answer::read(cfg, answer.status, &answer.body, &sent)
}

/// The secrets a request carried, in every form an echo of them may take (see `injection::secret_values`).
fn sent_secrets(form: &[(&'static str, String)], authorization: Option<Secret>) -> Vec<String> {
    let mut sent: Vec<Injection> = form
        .iter()
        .filter(|(name, _)| SECRET_FIELDS.contains(name))
        .map(|(name, value)| Injection::Form((*name).to_owned(), Secret::new(value.clone())))
        .collect();
    sent.extend(authorization.map(|value| Injection::Header("authorization".into(), value)));
    crate::injection::secret_values(&sent, None)
}

/// Provider text shown to people and stored: secrets masked, one line, bounded.
fn shown(text: &str, secrets: &[String]) -> String {
    let masked = String::from_utf8_lossy(&crate::injection::mask(text.as_bytes(), secrets)).into_owned();
    masked.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// Client authentication the service's way: an HTTP Basic header (RFC 6749 §2.3.1: both parts
/// form-encoded before Base64), or the credentials in the body; a public client sends its id only.
/// Returns the Authorization header it set, if any.
fn authenticate(
    request: reqwest::RequestBuilder,
    form: &mut Vec<(&'static str, String)>,
    cfg: &OAuthConfig,
    client_secret: Option<&Secret>,
) -> (reqwest::RequestBuilder, Option<Secret>) {
    match (cfg.client_auth, client_secret) {
        (ClientAuth::Basic, Some(secret)) => {
            let pair = format!("{}:{}", form_enc(&cfg.client_id), form_enc(secret.expose()));
            let value = Secret::new(format!("Basic {}", STANDARD.encode(pair)));
            (request.header("authorization", value.expose()), Some(value))
        }
        (ClientAuth::Body, Some(secret)) => {
            form.push(("client_id", cfg.client_id.clone()));
            form.push(("client_secret", secret.expose().to_owned()));
            (request, None)
        }
        (_, None) => {
            form.push(("client_id", cfg.client_id.clone()));
            (request, None)
        }
    }
}

fn form_enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// RFC 7009: asks the provider to revoke a token. Any 2xx counts as done.
pub async fn revoke(
    out: &Outbound,
    cfg: &OAuthConfig,
    client_secret: Option<&Secret>,
    token: &Secret,
    hint: &str,
) -> Result<(), TokenError> {
    token_calls_allowed(out)?;
    let endpoint = cfg.revoke_url.as_deref().ok_or_else(|| TokenError::NotSent("no revoke URL".into()))?;
    not_pending(endpoint)?;
    let url = Url::parse(endpoint).map_err(|e| TokenError::NotSent(format!("revoke URL: {e}")))?;
    let mut form: Vec<(&'static str, String)> =
        vec![("token", token.expose().to_owned()), ("token_type_hint", hint.to_owned())];
    let (request, _) = authenticate(out.request(reqwest::Method::POST, &url)?, &mut form, cfg, client_secret);
    let answer = out.send(&url, request.form(&form), Some(TOKEN_TIMEOUT)).await?;
    match answer.status {
        200..=299 => Ok(()),
        s => Err(TokenError::Transient(format!("the revoke endpoint answered HTTP {s}"))),
    }
}

mod answer;
mod retry_after;

pub use answer::{MAX_TOKEN_RESPONSE_BYTES, MAX_TOKEN_RESPONSE_DEPTH};
pub use retry_after::{MAX_PAUSE_SECS, RetryAfter};

#[cfg(test)]
mod tests;
