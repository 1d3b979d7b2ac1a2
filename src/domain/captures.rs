//! Captured values: what a provider returns when a connection is connected and the connection keeps
//! (QuickBooks' `realmId` in the callback, Salesforce's `instance_url` in the token response). A
//! service declares each one with where it comes from, its name (`{realm_id}` in the service's URLs)
//! and what it may be:
//!
//! - a **label**: one DNS label, as a connection variable (`domain::variables`), so it can change one
//!   label of a host or one segment of a path, never the registrable domain, the port or the scheme;
//! - an **origin** chosen from the service's own allow-list (`allowed`): the provider's value must be
//!   an origin one of its patterns matches, or a value the list maps to an origin. A callback query
//!   is written by whoever sends the browser back, so a value from it is never taken as a URL of its
//!   own: it only selects one of the origins the service definition already names.
//!
//! Captured values are shown to everyone who may see the connection, so a token or a secret can never
//! be one.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::provider::{at_path, path, scalar_text};
use crate::domain::validate::{self, push};
use crate::domain::variables::{ConnectionVariable, Values};
use crate::error::FieldErrors;

mod allowed;
mod urls;
pub use allowed::{ALTERNATIVES, Entry, alternatives};
pub use urls::{Stage, url_template};

/// At most this many captured values per service.
pub const MAX_CAPTURES: usize = 8;
/// At most this many entries in one allow-list.
pub const MAX_ALLOWED: usize = 30;
/// The longest provider value looked at: an origin is far shorter.
const MAX_VALUE_CHARS: usize = 2048;

/// Where a provider returns a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A query parameter of the authorization response (the callback URL).
    Callback,
    /// A field of the token response, at a dot path.
    TokenResponse,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Callback => "callback",
            Source::TokenResponse => "token_response",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Source::Callback => "callback query",
            Source::TokenResponse => "token response",
        }
    }
}

/// What a captured value may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One DNS label (letters, digits, hyphens), case kept.
    Label,
    /// An origin from the service's allow-list.
    Origin,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Label => "label",
            Kind::Origin => "origin",
        }
    }
}

/// One value a service keeps from what the provider returns at connect time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedValue {
    /// snake_case, at most 30 characters: written `{name}` in the service's URLs.
    pub name: String,
    pub display_name: String,
    pub source: Source,
    /// The callback's query parameter (`realmId`) or the token response's dot path (`team.id`).
    pub key: String,
    pub kind: Kind,
    /// An origin's allow-list, as stored: `https://accounts.zoho.eu`, `https://*.my.salesforce.com`
    /// (`*` is one DNS label), or `eu => https://desk.zoho.eu` (the provider sends `eu`, the
    /// connection keeps the origin). Empty for a label.
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// A captured value as the form or the API sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureInput {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub source: Option<String>,
    pub key: Option<String>,
    pub kind: Option<String>,
    pub allowed: Option<Vec<String>>,
}

impl From<&CapturedValue> for CaptureInput {
    fn from(c: &CapturedValue) -> CaptureInput {
        CaptureInput {
            name: Some(c.name.clone()),
            display_name: Some(c.display_name.clone()),
            source: Some(c.source.as_str().to_owned()),
            key: Some(c.key.clone()),
            kind: Some(c.kind.as_str().to_owned()),
            allowed: Some(c.allowed.clone()),
        }
    }
}

impl CapturedValue {
    /// Whether a value a connection keeps is still one this definition allows: the allow-list may
    /// have been narrowed since the connection was connected, and then the value is not used.
    pub fn still_allows(&self, kept: &str) -> bool {
        match self.kind {
            Kind::Label => label(kept).is_some(),
            Kind::Origin => allowed::gives(&self.entries(), kept),
        }
    }

    /// Its allow-list read back (entries that no longer read are left out: they allow nothing).
    pub fn entries(&self) -> Vec<Entry> {
        self.allowed.iter().filter_map(|raw| allowed::parse(raw, true).ok()).map(|(e, _)| e).collect()
    }

    /// What the connection keeps for `raw`, the provider's value; `Err` says why it is refused,
    /// quoting at most the start of the value.
    pub fn accept(&self, raw: &str) -> Result<String, String> {
        let quoted = quote(raw);
        if raw.chars().count() > MAX_VALUE_CHARS {
            return Err(format!(
                "The provider sent a {} of {} characters, far longer than a {} can be; nothing was kept.",
                self.key,
                raw.chars().count(),
                self.kind.as_str()
            ));
        }
        match self.kind {
            Kind::Label => label(raw).ok_or_else(|| {
                format!(
                    "The provider sent {} {quoted}, which is not one DNS label (letters, digits and hyphens; \
                     no dots, slashes, @, colons or spaces).",
                    self.key
                )
            }),
            Kind::Origin => allowed::choose(&self.entries(), raw).ok_or_else(|| {
                format!(
                    "The provider sent {} {quoted}, which is not one of the origins this service allows ({}).",
                    self.key,
                    self.allowed.join(", ")
                )
            }),
        }
    }
}

/// A provider's value shown in a message: at most 80 characters, quoted, control characters escaped.
fn quote(raw: &str) -> String {
    let head: String = raw.chars().take(80).collect();
    let more = if raw.chars().count() > 80 { "…" } else { "" };
    format!("{head:?}{more}")
}

/// A label value as a provider sends it: 1–63 letters, digits and hyphens, not starting or ending
/// with a hyphen. The case is kept (a Slack team id is upper-case); nothing is trimmed.
fn label(raw: &str) -> Option<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 63
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !raw.starts_with('-')
        && !raw.ends_with('-');
    ok.then(|| raw.to_owned())
}

/// The values of the callback's query: those present and valid. `Err` for one that is present but
/// refused, or sent twice.
pub fn from_callback(declared: &[CapturedValue], query: &[(String, String)]) -> Result<Values, String> {
    let mut out = Values::new();
    for capture in declared.iter().filter(|c| c.source == Source::Callback) {
        let mut sent = query.iter().filter(|(k, _)| *k == capture.key).map(|(_, v)| v);
        let Some(raw) = sent.next() else { continue };
        if sent.next().is_some() {
            return Err(format!("The provider's answer carries {} more than once.", capture.key));
        }
        out.insert(capture.name.clone(), capture.accept(raw)?);
    }
    Ok(out)
}

/// What a token response says of each declared token-response value present in it: the value to
/// keep, or why it is refused (a value that is not text is refused too).
pub fn from_token_response(
    declared: &[CapturedValue],
    answer: &Value,
) -> Vec<(String, Result<String, String>)> {
    declared
        .iter()
        .filter(|c| c.source == Source::TokenResponse)
        .filter_map(|c| {
            let found = at_path(answer, &c.key)?;
            let value = match scalar_text(found) {
                Some(text) => c.accept(&text),
                None => Err(format!("The provider's {} is not a text value.", c.key)),
            };
            Some((c.name.clone(), value))
        })
        .collect()
}

/// Query parameters of the authorization response that OAuth itself uses: never a captured value.
const OAUTH_PARAMS: &[&str] = &["code", "state", "iss", "error", "error_description", "error_uri"];

/// Checks a service's declared captured values; errors are keyed `oauth2.captured_values.<i>.<field>`.
/// `variables` are the service's connection variables, whose names a capture may not take.
pub fn declarations(
    errors: &mut FieldErrors,
    rows: &[CaptureInput],
    variables: &[ConnectionVariable],
    allow_http: bool,
) -> Vec<CapturedValue> {
    if rows.len() > MAX_CAPTURES {
        push(errors, "oauth2.captured_values", format!("Use at most {MAX_CAPTURES} captured values."));
    }
    let mut seen: HashSet<String> = variables.iter().map(|v| v.name.clone()).collect();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let field = |f: &str| format!("oauth2.captured_values.{i}.{f}");
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().to_owned();
        let name = validate::link_name(&text(&row.name))
            .and_then(|n| if n.len() <= 30 { Ok(n) } else { Err("Use at most 30 characters.".into()) })
            .map_err(|e| push(errors, field("name"), e))
            .ok()
            .filter(|n| {
                let fresh = seen.insert(n.clone());
                if !fresh {
                    push(
                        errors,
                        field("name"),
                        "This name is already a connection variable or captured value.",
                    );
                }
                fresh
            });
        let display_name = validate::display_name(&text(&row.display_name), 100)
            .map_err(|e| push(errors, field("display_name"), e))
            .ok();
        let source = match text(&row.source).trim() {
            "callback" => Some(Source::Callback),
            "token_response" => Some(Source::TokenResponse),
            _ => {
                push(errors, field("source"), "Choose the callback query or the token response.");
                None
            }
        };
        let key =
            source.and_then(|s| key(&text(&row.key), s).map_err(|e| push(errors, field("key"), e)).ok());
        let kind = match text(&row.kind).trim() {
            "label" => Some(Kind::Label),
            "origin" => Some(Kind::Origin),
            _ => {
                push(errors, field("kind"), "Choose a DNS label or an origin from a list.");
                None
            }
        };
        let allowed = kind.and_then(|k| {
            allow_list(k, row.allowed.as_deref().unwrap_or_default(), allow_http)
                .map_err(|e| push(errors, field("allowed"), e))
                .ok()
        });
        if let (Some(name), Some(display_name), Some(source), Some(key), Some(kind), Some(allowed)) =
            (name, display_name, source, key, kind, allowed)
        {
            out.push(CapturedValue { name, display_name, source, key, kind, allowed });
        }
    }
    out
}

/// Where a value is read: a query parameter's name, or a dot path into the token response. Neither
/// may be one that OAuth uses or that holds a token or a secret.
fn key(raw: &str, source: Source) -> Result<String, String> {
    let secretive = |k: &str| {
        let k = k.to_ascii_lowercase();
        k.contains("token") || k.contains("secret") || k.contains("password") || k == "code"
    };
    let refuse = "A captured value is shown to everyone who may see the connection: it cannot be a token, a \
                  code or a secret.";
    match source {
        Source::Callback => {
            let k = raw.trim();
            let ok = !k.is_empty()
                && raw.chars().count() <= 100
                && k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
            if !ok {
                return Err(
                    "Write the query parameter's name as the provider sends it (letters, digits, _, - \
                            and .; at most 100 characters), e.g. realmId."
                        .into(),
                );
            }
            if OAUTH_PARAMS.contains(&k) {
                return Err(format!("{k} belongs to OAuth itself, not to the values a provider adds."));
            }
            if secretive(k) {
                return Err(refuse.into());
            }
            Ok(k.to_owned())
        }
        Source::TokenResponse => {
            let p = path(raw)?;
            if p.split('.').any(secretive) {
                return Err(refuse.into());
            }
            Ok(p)
        }
    }
}

/// An allow-list as stored: entries in their canonical form, each once. A label has none; an origin
/// needs at least one.
fn allow_list(kind: Kind, rows: &[String], allow_http: bool) -> Result<Vec<String>, String> {
    // Counted as sent: blank entries count too.
    if rows.len() > MAX_ALLOWED {
        return Err(format!("List at most {MAX_ALLOWED} entries."));
    }
    let rows: Vec<&String> = rows.iter().filter(|r| !r.trim().is_empty()).collect();
    match kind {
        Kind::Label if rows.is_empty() => Ok(Vec::new()),
        Kind::Label => Err("Only an origin has a list of allowed values: leave it empty for a label.".into()),
        Kind::Origin if rows.is_empty() => Err("List the origins the provider may send (e.g. \
                                                https://accounts.zoho.eu, https://*.my.salesforce.com): an \
                                                origin is only ever chosen from this list."
            .into()),
        Kind::Origin => {
            let mut out: Vec<String> = Vec::new();
            for raw in rows {
                let (_, text) =
                    allowed::parse(raw, allow_http).map_err(|e| format!("{}: {e}", quote(raw)))?;
                if !out.contains(&text) {
                    out.push(text);
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests;
