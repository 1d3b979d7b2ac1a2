//! A connection: one set of credentials for a custom service, owned by the SDAdmin who created it.
//! Its lifecycle (`Status`), the credentials it stores (sealed), and the rules for its input.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::domain::service::{ServiceConfig, TokenPlacement};
use crate::domain::validate::{self, push};
use crate::error::FieldErrors;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotConnected,
    Connected,
    Disconnected,
    NeedsReconnect,
}

impl Status {
    pub const ALL: [Status; 4] =
        [Status::NotConnected, Status::Connected, Status::Disconnected, Status::NeedsReconnect];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotConnected => "not_connected",
            Status::Connected => "connected",
            Status::Disconnected => "disconnected",
            Status::NeedsReconnect => "needs_reconnect",
        }
    }

    pub fn parse(raw: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Status::NotConnected => "Not connected",
            Status::Connected => "Connected",
            Status::Disconnected => "Disconnected",
            Status::NeedsReconnect => "Needs reconnect",
        }
    }
}

/// How a stored status is read (a row's `status` column): an unknown one is an error, never a guess.
impl TryFrom<String> for Status {
    type Error = String;

    fn try_from(raw: String) -> Result<Status, String> {
        Status::parse(&raw).ok_or_else(|| format!("unknown connection status {raw:?}"))
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a connection stores for API Key and Basic services (sealed as JSON in `credentials`).
/// Debug prints no value.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credentials {
    ApiKey { values: BTreeMap<String, String> },
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ApiKey { values } => {
                write!(f, "ApiKey({:?} = [redacted])", values.keys().collect::<Vec<_>>())
            }
            Credentials::Basic { .. } => f.write_str("Basic([redacted])"),
        }
    }
}

impl Credentials {
    /// Every secret value, so that an echo of one can be masked.
    pub fn secret_values(&self) -> Vec<&str> {
        match self {
            Credentials::ApiKey { values } => values.values().map(String::as_str).collect(),
            Credentials::Basic { username: _, password } => vec![password.as_str()],
        }
    }
}

/// Credentials as a form or JSON sends them. Debug prints no value.
#[derive(Default, Deserialize)]
pub struct CredentialInput {
    pub params: Option<BTreeMap<String, String>>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Checks credentials against the service: every API key parameter filled, nothing unknown; a
/// username and password for Basic. Messages never quote a value.
pub fn validate_credentials(
    config: &ServiceConfig,
    input: CredentialInput,
) -> Result<Credentials, FieldErrors> {
    let mut errors = FieldErrors::new();
    // At most 4096 characters as sent; one line once trimmed.
    let too_long =
        |v: &str| v.chars().count() > 4096 || v.trim().chars().any(|c| c == '\r' || c == '\n' || c == '\0');
    match config {
        ServiceConfig::ApiKey(k) => {
            if input.username.is_some() || input.password.is_some() {
                push(
                    &mut errors,
                    "username",
                    "API Key connections take params, not a username and password.",
                );
            }
            let mut given = input.params.unwrap_or_default();
            let mut values = BTreeMap::new();
            for p in &k.params {
                match given.remove(&p.name) {
                    Some(v) if too_long(&v) => push(
                        &mut errors,
                        format!("params.{}", p.name),
                        "Use at most 4096 characters on one line.",
                    ),
                    Some(v) if !v.trim().is_empty() => {
                        values.insert(p.name.clone(), v.trim().to_owned());
                    }
                    _ => push(
                        &mut errors,
                        format!("params.{}", p.name),
                        format!("Enter the {}.", p.display_name),
                    ),
                }
            }
            for unknown in given.keys() {
                push(&mut errors, "params", format!("{unknown:?} is not a parameter of this service."));
            }
            if errors.is_empty() { Ok(Credentials::ApiKey { values }) } else { Err(errors) }
        }
        ServiceConfig::Basic => {
            if input.params.as_ref().is_some_and(|p| !p.is_empty()) {
                push(&mut errors, "params", "Basic connections take a username and password, not params.");
            }
            let sent = input.username.unwrap_or_default();
            let username = sent.trim().to_owned();
            let password = input.password.unwrap_or_default();
            if username.is_empty() {
                push(&mut errors, "username", "Enter the username.");
            } else if username.contains(':') || too_long(&sent) {
                push(
                    &mut errors,
                    "username",
                    "A username cannot contain ':' or line breaks, and has at most 4096 characters.",
                );
            }
            if password.is_empty() {
                push(&mut errors, "password", "Enter the password.");
            } else if too_long(&password) || password.contains(['\r', '\n', '\0']) {
                push(&mut errors, "password", "Use at most 4096 characters on one line.");
            }
            if errors.is_empty() { Ok(Credentials::Basic { username, password }) } else { Err(errors) }
        }
        ServiceConfig::OAuth2(_) => {
            push(
                &mut errors,
                "credentials",
                "OAuth2 connections are connected through the provider's consent, not with credentials.",
            );
            Err(errors)
        }
    }
}

/// A connection's name, link name and scopes as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConnectionInput {
    pub service: Option<String>,
    pub name: Option<String>,
    pub link_name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Values for the service's connection variables (`{"subdomain": "acme"}`), given at creation.
    pub variables: Option<crate::domain::variables::Values>,
}

/// Checks the scopes against the service's: a subset, and at least one when the service has any.
pub fn validate_scopes(config: &ServiceConfig, chosen: &[String], errors: &mut FieldErrors) -> Vec<String> {
    let Some(oauth) = config.oauth() else {
        if !chosen.is_empty() {
            push(errors, "scopes", "Only OAuth2 connections have scopes.");
        }
        return Vec::new();
    };
    let known: Vec<&str> = oauth.scopes.iter().map(|s| s.scope.as_str()).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for scope in chosen.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !known.contains(&scope) {
            push(errors, "scopes", format!("{scope:?} is not a scope of this service."));
        } else if seen.insert(scope) {
            out.push(scope.to_owned());
        }
    }
    // Keep the service's order, so the request and the page read the same way every time.
    out.sort_by_key(|s| known.iter().position(|k| k == s));
    if !known.is_empty() && out.is_empty() && !errors.contains_key("scopes") {
        push(errors, "scopes", "Choose at least one scope.");
    }
    out
}

/// Link names that are paths under `/admin/connections/` or `/api/v1/connections/`: a connection
/// named so could not be reached.
const RESERVED_LINK_NAMES: &[&str] = &["new", "bulk"];

/// Checks the display name and (for a new connection) the link name.
pub fn validate_names(
    input: &ConnectionInput,
    creating: bool,
    errors: &mut FieldErrors,
) -> (Option<String>, Option<String>) {
    let name = validate::display_name(input.name.as_deref().unwrap_or(""), 100)
        .map_err(|e| push(errors, "name", e))
        .ok();
    let link = if creating {
        validate::link_name(input.link_name.as_deref().unwrap_or(""))
            .and_then(|l| match RESERVED_LINK_NAMES.contains(&l.as_str()) {
                true => Err(format!("“{l}” is reserved for a page of this app; choose another.")),
                false => Ok(l),
            })
            .map_err(|e| push(errors, "link_name", e))
            .ok()
    } else {
        None
    };
    (name, link)
}

/// Splits a granted `scope` string on the service's delimiter (and on spaces, which some providers
/// use whatever was asked).
pub fn parse_granted(scope: &str, delimiter: &str) -> Vec<String> {
    scope
        .split(|c: char| c.is_whitespace() || delimiter.contains(c))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How a script's request gets the token, for the details page's example.
pub fn placement_hint(config: &ServiceConfig) -> String {
    match config {
        ServiceConfig::ApiKey(k) => {
            format!(
                "{} as {}",
                k.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
                k.param_type.label()
            )
        }
        ServiceConfig::Basic => "Authorization: Basic …".to_owned(),
        ServiceConfig::OAuth2(o) => match &o.token_placement {
            TokenPlacement::Header { name, prefix } => format!("{name}: {prefix} …"),
            TokenPlacement::Query { name } => format!("?{name}=…"),
        },
    }
}
