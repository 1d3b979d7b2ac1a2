//! Reading a token endpoint's answer the service's way: JSON or a form-encoded body (whatever its
//! content type says), fields at configured paths, `expires_in` as a number or a numeric string in
//! the service's unit, `scope` as a string or an array, and failures however the provider words
//! them — an HTTP error, an `error` (string or object) on HTTP 200, `ok: false`, or a `status` code
//! with no `error` at all — sorted into `TokenError` by error code lists. An answer too large, nested
//! too deep or not parseable is a failure that stores nothing.

use serde_json::{Map, Value};

use super::{RetryAfter, TokenError, TokenSet, shown};
use crate::crypto::Secret;
use crate::domain::provider::{CLIENT_REFUSED_ERRORS, DEAD_GRANT_ERRORS, at_path, scalar_text};
use crate::domain::service::OAuthConfig;

/// The largest token response read: a token answer is a few kilobytes.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 1024 * 1024;
/// The deepest nesting of a token response read (objects and arrays).
pub const MAX_TOKEN_RESPONSE_DEPTH: usize = 16;

/// A provider's throttle, if the answer is one: HTTP 429 whatever it says, or 503 with a
/// `Retry-After` (a 503 without one is an outage like any other 5xx, see `read`).
pub fn rate_limited(status: u16, headers: &reqwest::header::HeaderMap) -> Option<TokenError> {
    let retry_after =
        headers.get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(RetryAfter::parse);
    match status {
        429 => Some(TokenError::RateLimited { status, retry_after }),
        503 if retry_after.is_some() => Some(TokenError::RateLimited { status, retry_after }),
        _ => None,
    }
}

/// The tokens in an answer, or why there are none. `sent` are the secrets the request carried,
/// masked in any provider text kept.
pub fn read(cfg: &OAuthConfig, status: u16, body: &[u8], sent: &[String]) -> Result<TokenSet, TokenError> {
    if status >= 500 || status == 429 {
        return Err(TokenError::Transient(format!("the token endpoint answered HTTP {status}")));
    }
    let answer = parse(status, body, cfg)?;
    if let Some(failure) = failure(cfg, status, &answer, sent) {
        return Err(failure);
    }
    tokens(cfg, status, &answer)
}

/// The answer as a JSON object: JSON, or else a form-encoded body that names a token or an error.
fn parse(status: u16, body: &[u8], cfg: &OAuthConfig) -> Result<Map<String, Value>, TokenError> {
    let refused = |why: String| {
        TokenError::Transient(format!(
            "the token endpoint answered HTTP {status} with {why}; nothing was stored"
        ))
    };
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return Err(refused(format!(
            "{} bytes, more than the {} KiB a token response may take",
            body.len(),
            MAX_TOKEN_RESPONSE_BYTES / 1024
        )));
    }
    if depth(body) > MAX_TOKEN_RESPONSE_DEPTH {
        return Err(refused(format!("JSON nested deeper than {MAX_TOKEN_RESPONSE_DEPTH} levels")));
    }
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return Ok(map);
    }
    let form: Map<String, Value> = std::str::from_utf8(body)
        .ok()
        .filter(|text| !text.trim_start().starts_with(['{', '[', '<']))
        .map(|text| {
            url::form_urlencoded::parse(text.trim().as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        })
        .unwrap_or_default();
    let names_one = ["error", cfg.token_response.access_token.as_str(), "access_token"];
    if names_one.iter().any(|name| form.contains_key(*name)) {
        return Ok(form);
    }
    Err(refused("a body that is neither a JSON object nor form-encoded token fields".into()))
}

/// How deep the brackets of a JSON text nest (outside strings), counted without parsing it.
fn depth(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, ..) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The failure an answer reports, if any: an HTTP error, an `error`, or `ok: false`.
fn failure(
    cfg: &OAuthConfig,
    status: u16,
    answer: &Map<String, Value>,
    sent: &[String],
) -> Option<TokenError> {
    let error = answer.get("error").filter(|e| !matches!(e, Value::Null | Value::Bool(false)));
    let error = error.filter(|e| e.as_str() != Some(""));
    let not_ok = answer.get("ok") == Some(&Value::Bool(false));
    if (200..=299).contains(&status) && error.is_none() && !not_ok {
        return None;
    }
    // The codes the answer carries: `error` (a string, or an object's `code` and `type`), and a
    // `status` word on an HTTP error (HubSpot's answers have no `error`).
    let mut codes: Vec<String> = match error {
        Some(Value::Object(e)) => {
            ["code", "type"].iter().filter_map(|k| e.get(*k).and_then(scalar_text)).collect()
        }
        Some(other) => scalar_text(other).into_iter().collect(),
        None => Vec::new(),
    };
    if !(200..=299).contains(&status) {
        codes.extend(answer.get("status").and_then(Value::as_str).map(str::to_owned));
    }
    let description = ["error_description", "error.message", "message"]
        .iter()
        .find_map(|path| {
            at_path(&Value::Object(answer.clone()), path).and_then(Value::as_str).map(str::to_owned)
        })
        .map(|d| shown(&d, sent));
    let listed = |built_in: &[&str], extra: &[String]| {
        codes.iter().find(|code| {
            built_in.iter().any(|b| b.eq_ignore_ascii_case(code))
                || extra.iter().any(|x| x.eq_ignore_ascii_case(code))
        })
    };
    let error = |code: &String| shown(code, sent);
    if let Some(code) = listed(DEAD_GRANT_ERRORS, &cfg.dead_grant_errors) {
        return Some(TokenError::InvalidGrant { error: error(code), description });
    }
    if let Some(code) = listed(CLIENT_REFUSED_ERRORS, &cfg.client_refused_errors) {
        return Some(TokenError::ClientRefused { error: error(code), description });
    }
    let said = match (codes.first(), description) {
        (Some(code), Some(d)) => format!(" ({}: {d})", error(code)),
        (Some(code), None) => format!(" ({})", error(code)),
        (None, Some(d)) => format!(" ({d})"),
        (None, None) => String::new(),
    };
    let without = if (200..=299).contains(&status) { " a failure" } else { "" };
    Some(TokenError::Transient(format!("the token endpoint answered HTTP {status}{without}{said}")))
}

/// The tokens of a successful answer, read at the service's paths.
fn tokens(cfg: &OAuthConfig, status: u16, answer: &Map<String, Value>) -> Result<TokenSet, TokenError> {
    let answer = Value::Object(answer.clone());
    let map = &cfg.token_response;
    let field = |path: &str, standard: &str| at_path(&answer, path).or_else(|| answer.get(standard));
    let text = |path: &str, standard: &str| {
        field(path, standard).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned)
    };
    let seconds = |path: &str, standard: &str| {
        let value = field(path, standard)?;
        let amount = value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f as i64))
            .or_else(|| value.as_str().and_then(|s| s.trim().parse::<i64>().ok()))?;
        Some(map.expires_in_unit.seconds(amount))
    };
    let Some(access_token) = text(&map.access_token, "access_token") else {
        return Err(TokenError::Transient(format!(
            "the token endpoint answered HTTP {status} without an access token at `{}`",
            map.access_token
        )));
    };
    let scope = match field(&map.scope, "scope") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => {
            Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(&cfg.scope_delimiter))
        }
        _ => None,
    };
    Ok(TokenSet {
        access_token: Secret::new(access_token),
        refresh_token: text(&map.refresh_token, "refresh_token").map(Secret::new),
        expires_in: seconds(&map.expires_in, "expires_in"),
        refresh_token_expires_in: seconds(&map.refresh_token_expires_in, "refresh_token_expires_in"),
        scope,
        captured: crate::domain::captures::from_token_response(&cfg.captured_values, &answer),
    })
}

#[cfg(test)]
mod tests;
