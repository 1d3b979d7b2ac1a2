//! Field rules shared by services and connections: names, link names, URLs, header tokens.

use url::Url;

use crate::error::FieldErrors;

/// Adds `message` to `field` in `errors`.
pub fn push(errors: &mut FieldErrors, field: impl Into<String>, message: impl Into<String>) {
    errors.entry(field.into()).or_default().push(message.into());
}

/// A display name: at most `max` characters and no control characters as sent, not blank; stored
/// trimmed. (Limits apply to the value as sent throughout, as the OpenAPI document's `maxLength` does.)
pub fn display_name(raw: &str, max: usize) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("Enter a name.".into());
    }
    if raw.chars().count() > max {
        return Err(format!("Use at most {max} characters."));
    }
    if raw.chars().any(char::is_control) {
        return Err("Remove control characters such as tabs or line breaks.".into());
    }
    Ok(value.to_owned())
}

/// A link name: a lowercase letter, then lowercase letters, digits and single underscores, no
/// trailing underscore, at most 50 characters as sent; surrounding whitespace is dropped.
pub fn link_name(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("Enter a link name.".into());
    }
    if raw.chars().count() > 50 {
        return Err("Use at most 50 characters.".into());
    }
    let ok_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let starts = value.starts_with(|c: char| c.is_ascii_lowercase());
    if !ok_chars || !starts || value.contains("__") || value.ends_with('_') {
        return Err("Use snake_case: a lowercase letter first, then lowercase letters, digits and single \
                    underscores, not ending with an underscore (e.g. zoho_desk)."
            .into());
    }
    Ok(value.to_owned())
}

/// Suggests a link name from a display name ("Zoho Desk (EU)" → "zoho_desk_eu").
pub fn suggest_link_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
    let mut s: String = trimmed.chars().take(50).collect();
    while s.ends_with('_') {
        s.pop();
    }
    s
}

/// An absolute URL a service may point at: https (http only when allowed), a host, no user
/// information, at most 2048 characters as sent. Returns it normalised.
pub fn service_url(raw: &str, allow_http: bool) -> Result<String, String> {
    let value = raw.trim();
    if raw.chars().count() > 2048 {
        return Err("Use at most 2048 characters.".into());
    }
    let url = Url::parse(value)
        .map_err(|_| "Enter an absolute URL such as https://api.example.com/v1.".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("Use https (plain http is turned off on this portal).".into()),
        _ => return Err("Use an https URL.".into()),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host name.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "Remove the user name and password from the URL; credentials belong to connections.".into()
        );
    }
    if url.fragment().is_some() {
        return Err("Remove the #fragment from the URL.".into());
    }
    Ok(url.to_string())
}

/// An HTTP header name (an RFC 9110 token).
pub fn header_name(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if value.is_empty() || raw.chars().count() > 100 || !value.chars().all(tchar) {
        return Err("Use a valid header name: letters, digits and - (e.g. X-Api-Key).".into());
    }
    Ok(value.to_owned())
}

/// Headers that frame the message or concern one hop only: a credential sent under one of these names
/// would change how the upstream (or a proxy on the way) reads the request instead of authenticating it.
const HOP_BY_HOP_OR_FRAMING: &[&str] = &[
    "connection",
    "content-length",
    "expect",
    "host",
    "http2-settings",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A header name a credential may be sent in: a valid header name that is neither hop-by-hop nor a
/// framing header (`Host`, `Content-Length`, `Transfer-Encoding`, …).
pub fn credential_header_name(raw: &str) -> Result<String, String> {
    let value = header_name(raw)?;
    if HOP_BY_HOP_OR_FRAMING.iter().any(|h| h.eq_ignore_ascii_case(&value)) {
        return Err(format!(
            "{value} cannot carry a credential: servers and proxies read it to frame or route the request. \
             Use the header the provider documents (e.g. X-Api-Key)."
        ));
    }
    Ok(value)
}

/// What an API key is sent after: printable ASCII (a header value, a query or form value once
/// encoded), spaces kept as typed, at most 50 characters, not only spaces. Blank means none.
pub fn value_prefix(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    if raw.chars().count() > 50 {
        return Err("Use at most 50 characters.".into());
    }
    if !raw.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err("Use letters, digits, punctuation and spaces only (ASCII).".into());
    }
    if raw.trim().is_empty() {
        return Err("Enter the text sent before the key, or leave it empty.".into());
    }
    Ok(raw.to_owned())
}

/// A query-string or form parameter name: not empty, no whitespace, at most 100 characters.
pub fn param_name(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("Enter the parameter name.".into());
    }
    if raw.chars().count() > 100 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Use at most 100 characters and no spaces.".into());
    }
    Ok(value.to_owned())
}

/// serde's reason with the offending value reduced to its kind: `invalid type: string "hunter2",
/// expected …` becomes `invalid type: string, expected …` (the value may be a secret in the wrong place).
pub fn without_values(e: &serde_json::Error) -> String {
    let reason = e.to_string();
    for prefix in ["invalid type:", "invalid value:", "unknown variant"] {
        // Split at the last ", expected ": what follows describes our type, whatever the value holds.
        if let Some(rest) = reason.strip_prefix(prefix)
            && let Some((seen, expected)) = rest.rsplit_once(", expected ")
        {
            let kind = seen.trim_start().split([' ', '`', '"']).next().unwrap_or_default();
            let sep = if kind.is_empty() { "" } else { " " };
            return format!("{prefix}{sep}{kind}, expected {expected}");
        }
    }
    reason
}

#[cfg(test)]
mod tests;
