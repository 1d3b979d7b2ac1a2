//! The pure parts of sending a request with a connection's credentials: where it may go (confinement
//! to the service's API base URL), which credentials go where (injection), and hiding any echo of a
//! secret in what comes back (for invokes and for token endpoints' error text alike).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use url::Url;

use crate::crypto::Secret;
use crate::domain::connection::Credentials;
use crate::domain::service::{ParamType, ServiceConfig, TokenPlacement};

/// Headers a caller may not set: hop-by-hop ones and those the client computes.
const DROPPED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The URL a request goes to: `path` joined to the service's API base URL, or an absolute `url`
/// under it (same scheme, host, port and path prefix). A service without an API base URL cannot be
/// invoked: credentials never leave without a confinement.
pub fn target(
    base: Option<&str>,
    url: Option<&str>,
    path: Option<&str>,
) -> Result<Url, (&'static str, String)> {
    let Some(base) = base else {
        return Err((
            "service",
            "This service has no API base URL, so its connections cannot be invoked: set the API base URL \
             on the service (credentials are only sent under it)."
                .into(),
        ));
    };
    let target = match (url.filter(|u| !u.is_empty()), path.filter(|p| !p.is_empty())) {
        (Some(_), Some(_)) => return Err(("url", "Send either url or path, not both.".into())),
        (None, None) => {
            return Err((
                "path",
                "Send a path (joined to the service's API base URL) or an absolute url.".into(),
            ));
        }
        (None, Some(path)) => {
            suspicious(path).map_err(|m| ("path", m))?;
            let joined = format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'));
            Url::parse(&joined).map_err(|e| ("path", format!("The path does not make a valid URL: {e}.")))?
        }
        (Some(raw), None) => {
            suspicious(raw).map_err(|m| ("url", m))?;
            Url::parse(raw).map_err(|_| ("url", "Send an absolute http(s) URL.".to_owned()))?
        }
    };
    if !matches!(target.scheme(), "http" | "https") || target.host_str().is_none() {
        return Err(("url", "Send an absolute http(s) URL.".into()));
    }
    if !target.username().is_empty() || target.password().is_some() {
        return Err(("url", "URLs with user information are not allowed.".into()));
    }
    let base =
        Url::parse(base).map_err(|_| ("url", "The service's API base URL is not valid.".to_owned()))?;
    if !under(&base, &target) {
        return Err((
            "url",
            format!("Credentials of this connection are only sent under {base}; this URL is outside it."),
        ));
    }
    Ok(target)
}

/// Refuses tricks that a URL parser and the upstream server might read differently.
fn suspicious(raw: &str) -> Result<(), String> {
    let lower = raw.to_ascii_lowercase();
    let path_part = lower.split(['?', '#']).next().unwrap_or("");
    let after_scheme = path_part.split_once("://").map_or(path_part, |(_, rest)| rest);
    if raw.chars().any(|c| c.is_control() || c == '\\') {
        return Err("Remove control characters and backslashes.".into());
    }
    if path_part.contains("%2f") || path_part.contains("%5c") || path_part.contains("%2e") {
        return Err("Encoded slashes and dots are not allowed in the path.".into());
    }
    if after_scheme.contains("//") || (!raw.contains("://") && raw.starts_with("//")) {
        return Err("Empty path segments (//) are not allowed.".into());
    }
    let path = if raw.contains("://") {
        after_scheme.find('/').map_or("", |i| &after_scheme[i..])
    } else {
        path_part
    };
    if path.split('/').any(dot_segment) {
        return Err(
            "The path may not hold .. segments, nor dots or slashes disguised with ;parameters or encoding."
                .into(),
        );
    }
    Ok(())
}

/// Whether a path segment is `..` to some server, a disguised `.`, or hides a slash: after its
/// `;parameters` are cut (Tomcat reads `/api/..;x/secret` as `/secret`) and after percent-decoding,
/// repeated for servers and proxies that decode twice. A plain `.` is fine: the URL parser removes it.
fn dot_segment(segment: &str) -> bool {
    let mut current = segment.to_owned();
    for _ in 0..3 {
        let bare = current.split(';').next().unwrap_or("");
        if bare == ".." || (bare == "." && current != ".") || current.contains(['/', '\\']) {
            return true;
        }
        let decoded = percent_encoding::percent_decode_str(&current).decode_utf8_lossy().into_owned();
        if decoded == current {
            return false;
        }
        current = decoded;
    }
    // Still changing after three decodings: no real path is encoded that deep.
    true
}

/// Whether `target` lies under `base`: same origin and, segment by segment, the base's path prefix.
pub fn under(base: &Url, target: &Url) -> bool {
    if base.scheme() != target.scheme()
        || base.host() != target.host()
        || base.port_or_known_default() != target.port_or_known_default()
    {
        return false;
    }
    let prefix = base.path().trim_end_matches('/');
    let path = target.path();
    prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// One credential to put on the outbound request.
#[derive(Debug)]
pub enum Injection {
    Header(String, Secret),
    Query(String, Secret),
    Form(String, Secret),
}

/// The credentials of a connection, placed the way its service says.
pub fn injections(
    config: &ServiceConfig,
    credentials: Option<&Credentials>,
    token: Option<&Secret>,
) -> Vec<Injection> {
    match (config, credentials, token) {
        (ServiceConfig::ApiKey(k), Some(Credentials::ApiKey { values }), _) => k
            .params
            .iter()
            .filter_map(|p| {
                let value = Secret::new(format!("{}{}", p.value_prefix, values.get(&p.name)?));
                Some(match k.param_type {
                    ParamType::Header => Injection::Header(p.name.clone(), value),
                    ParamType::Query => Injection::Query(p.name.clone(), value),
                    ParamType::Form => Injection::Form(p.name.clone(), value),
                })
            })
            .collect(),
        (ServiceConfig::Basic, Some(Credentials::Basic { username, password }), _) => {
            let encoded = STANDARD.encode(format!("{username}:{password}"));
            vec![Injection::Header("Authorization".into(), Secret::new(format!("Basic {encoded}")))]
        }
        (ServiceConfig::OAuth2(o), _, Some(token)) => match &o.token_placement {
            TokenPlacement::Header { name, prefix } if prefix.is_empty() => {
                vec![Injection::Header(name.clone(), token.clone())]
            }
            TokenPlacement::Header { name, prefix } => {
                vec![Injection::Header(name.clone(), Secret::new(format!("{prefix} {}", token.expose())))]
            }
            TokenPlacement::Query { name } => vec![Injection::Query(name.clone(), token.clone())],
        },
        _ => Vec::new(),
    }
}

/// The caller's headers without the ones it may not set and without any an injection replaces
/// (form parameters replace the Content-Type: the body is sent as a form).
pub fn caller_headers(
    headers: &BTreeMap<String, String>,
    injected: &[Injection],
) -> Result<Vec<(String, String)>, String> {
    let replaced = replaced_headers(injected);
    let mut out = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        // The validator trims what people type into a form; a name sent with spaces is refused here.
        if crate::domain::validate::header_name(name).ok().as_ref() != Some(name) {
            return Err(format!("{name:?} is not a valid header name."));
        }
        if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(format!("The value of header {name} contains a line break."));
        }
        if keeps_header(&lower, &replaced) {
            out.push((name.clone(), value.clone()));
        }
    }
    Ok(out)
}

/// The headers, lower-cased, that the injections set: the caller's own of those names are dropped
/// (form parameters replace the Content-Type: the body is sent as a form).
pub fn replaced_headers(injected: &[Injection]) -> Vec<String> {
    let mut replaced: Vec<String> = injected
        .iter()
        .filter_map(|i| if let Injection::Header(n, _) = i { Some(n.to_ascii_lowercase()) } else { None })
        .collect();
    if injected.iter().any(|i| matches!(i, Injection::Form(..))) {
        replaced.push("content-type".into());
    }
    replaced
}

/// Whether a caller's header (its name lower-cased) goes out: not one it may not set, nor one an
/// injection `replaced` (see `replaced_headers`).
pub fn keeps_header(lower: &str, replaced: &[String]) -> bool {
    !DROPPED_HEADERS.contains(&lower) && !replaced.iter().any(|r| r == lower)
}

/// Sets query parameters on `url`: the caller's, then the injected ones replacing any of the same name
/// in any case (an upstream that reads `API_KEY` as `api_key` must not see the caller's value).
pub fn apply_query(url: &mut Url, caller: &BTreeMap<String, String>, injected: &[Injection]) {
    let injected: Vec<(&str, &str)> = injected
        .iter()
        .filter_map(|i| if let Injection::Query(n, v) = i { Some((n.as_str(), v.expose())) } else { None })
        .collect();
    // Nothing to add or replace: the query stays as the caller wrote it (a signed URL stays valid).
    if injected.is_empty() && caller.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    pairs.extend(caller.iter().map(|(k, v)| (k.clone(), v.clone())));
    pairs.retain(|(k, _)| !injected.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)));
    pairs.extend(injected.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
}

/// A form body with the injected form parameters replacing any of the same name in any case. The
/// caller's body must be a form too: `content_type` is the one it declared, if any.
pub fn form_body(
    caller: Option<&[u8]>,
    content_type: Option<&str>,
    injected: &[Injection],
) -> Option<Result<Vec<u8>, String>> {
    let fields: Vec<(&str, &str)> = injected
        .iter()
        .filter_map(|i| if let Injection::Form(n, v) = i { Some((n.as_str(), v.expose())) } else { None })
        .collect();
    if fields.is_empty() {
        return None;
    }
    if content_type
        .is_some_and(|t| !t.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
    {
        return Some(Err("This service sends its API key as form data: send a form-encoded body \
                         (application/x-www-form-urlencoded)."
            .into()));
    }
    let mut pairs: Vec<(String, String)> = match caller {
        None => Vec::new(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => url::form_urlencoded::parse(text.as_bytes()).into_owned().collect(),
            Err(_) => {
                return Some(Err(
                    "This service sends its API key as form data: send a form-encoded text body.".into(),
                ));
            }
        },
    };
    pairs.retain(|(k, _)| !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)));
    pairs.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Some(Ok(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()))
}

/// The values an echo of which must be hidden: each injected value, the token of a `Prefix token`
/// header, the stored credentials (and Basic's `user:password` pair), each of them base64-encoded
/// (standard and URL-safe, padded or not), and all of these as an upstream may echo them —
/// form-encoded, or escaped inside a JSON string (`\"`, `\\`, and `\/` as some serializers write it).
///
/// Base64 is masked for whole values only: the encoding of a secret inside a longer encoded text
/// depends on where it starts, so no fixed string finds it there.
pub fn secret_values(injected: &[Injection], credentials: Option<&Credentials>) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for i in injected {
        let (Injection::Header(_, v) | Injection::Query(_, v) | Injection::Form(_, v)) = i;
        values.push(v.expose().to_owned());
        if let Some((_, token)) = v.expose().split_once(' ') {
            values.push(token.to_owned());
        }
    }
    if let Some(c) = credentials {
        values.extend(c.secret_values().into_iter().map(str::to_owned));
        if let Credentials::Basic { username, password } = c {
            values.push(format!("{username}:{password}"));
        }
    }
    // Shorter values are not masked (see `mask`), so neither are their encodings.
    for value in values.clone().iter().filter(|v| v.len() >= 3) {
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            values.push(engine.encode(value));
        }
    }
    for value in values.clone() {
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        values.push(encoded);
        let json = serde_json::to_string(&value).unwrap_or_default();
        if let Some(escaped) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
            values.push(escaped.replace('/', "\\/"));
            values.push(escaped.to_owned());
        }
    }
    // Longest first, so that a secret containing another is masked whole.
    values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    values.dedup();
    values
}

mod masker;

pub use masker::{Masker, mask};

#[cfg(test)]
mod tests;
