//! How an OAuth2 provider departs from RFC 6749, as per-service settings with defaults that follow
//! the RFC: the token request's body, PKCE, scope on refresh, where a token response puts its
//! fields, which error codes mean a dead grant or a refused client, what an API answer says when a
//! token expired, and how often an idle token is refreshed. General rules with settings, rather than
//! code per provider: a provider that differs is described, not programmed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a token request carries its parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestFormat {
    /// `application/x-www-form-urlencoded` (RFC 6749 §4.1.3).
    #[default]
    Form,
    /// A JSON object of the same parameters (Notion).
    Json,
}

impl RequestFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestFormat::Form => "form",
            RequestFormat::Json => "json",
        }
    }
}

/// The unit of `expires_in` in a token response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    #[default]
    Seconds,
    Milliseconds,
}

impl TimeUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "seconds",
            TimeUnit::Milliseconds => "milliseconds",
        }
    }

    /// `amount` of this unit in whole seconds.
    pub fn seconds(self, amount: i64) -> i64 {
        match self {
            TimeUnit::Seconds => amount,
            TimeUnit::Milliseconds => amount / 1000,
        }
    }
}

/// Where a token response puts its fields: dot paths into its JSON (`authed_user.access_token` for
/// Slack user tokens). A field missing at its path is looked for under its standard name at the top
/// level, where providers that nest the first answer put refreshed tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponseMapping {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: String,
    pub refresh_token_expires_in: String,
    pub scope: String,
    pub expires_in_unit: TimeUnit,
}

impl Default for ResponseMapping {
    fn default() -> Self {
        ResponseMapping {
            access_token: "access_token".into(),
            refresh_token: "refresh_token".into(),
            expires_in: "expires_in".into(),
            refresh_token_expires_in: "refresh_token_expires_in".into(),
            scope: "scope".into(),
            expires_in_unit: TimeUnit::Seconds,
        }
    }
}

impl ResponseMapping {
    /// Each mapped field: its standard name and its configured path.
    pub fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("access_token", &self.access_token),
            ("refresh_token", &self.refresh_token),
            ("expires_in", &self.expires_in),
            ("refresh_token_expires_in", &self.refresh_token_expires_in),
            ("scope", &self.scope),
        ]
    }

    /// The fields read somewhere other than their standard name, for the details page.
    pub fn moved(&self) -> Vec<(&'static str, &str)> {
        self.fields().into_iter().filter(|(name, path)| name != path).collect()
    }
}

/// A JSON body match: the value at `path` equals `equals` (compared as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyMatch {
    pub path: String,
    pub equals: String,
}

impl BodyMatch {
    pub fn matches(&self, body: &Value) -> bool {
        at_path(body, &self.path).and_then(scalar_text).is_some_and(|v| v == self.equals)
    }
}

/// Error codes that mean the grant is dead (the owner must reconnect), whatever the service lists:
/// RFC 6749's `invalid_grant`, GitHub's `bad_refresh_token`, Slack's `invalid_refresh_token` and
/// `token_revoked`, HubSpot's `BAD_REFRESH_TOKEN` status, and Facebook's code 190 (an invalid or
/// expired token). Compared ignoring case.
pub const DEAD_GRANT_ERRORS: &[&str] =
    &["invalid_grant", "bad_refresh_token", "invalid_refresh_token", "token_revoked", "190"];

/// Error codes that mean the provider refuses the service's client credentials: RFC 6749's, GitHub's
/// `incorrect_client_credentials`, Slack's `invalid_client_id` and `bad_client_secret`, HubSpot's
/// `BAD_CLIENT_ID` status. Compared ignoring case.
pub const CLIENT_REFUSED_ERRORS: &[&str] = &[
    "invalid_client",
    "unauthorized_client",
    "incorrect_client_credentials",
    "invalid_client_id",
    "bad_client_secret",
    "bad_client_id",
];

/// The most error codes a service may add to a list.
pub const MAX_ERROR_CODES: usize = 20;

/// The value at a dot path (`authed_user.access_token`; a number indexes an array).
pub fn at_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |at, part| match at {
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => at.get(part),
    })
}

/// A string, number or boolean as text; anything else has none.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A dot path as a setting: 1–5 names of letters, digits, `_` or `-`, at most 100 characters as sent.
pub fn path(raw: &str) -> Result<String, String> {
    let path = raw.trim();
    let ok = !path.is_empty()
        && raw.chars().count() <= 100
        && path.split('.').count() <= 5
        && path.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if ok {
        Ok(path.to_owned())
    } else {
        Err("Write a dot path of field names, e.g. authed_user.access_token (letters, digits, _ and -; \
             at most 5 levels and 100 characters)."
            .into())
    }
}

/// An error code as a setting: letters, digits, `_`, `-`, `.` or `:`, at most 100 characters as sent.
pub fn error_code(raw: &str) -> Result<String, String> {
    let code = raw.trim();
    let ok = !code.is_empty()
        && raw.chars().count() <= 100
        && code.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
    if ok {
        Ok(code.to_owned())
    } else {
        Err(format!(
            "{:?} is not an error code: use letters, digits, _, -, . or : (at most 100 characters).",
            raw.chars().take(100).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dot_path_reaches_nested_fields_and_array_items() {
        let body = json!({"authed_user": {"access_token": "t", "scopes": ["a", "b"]}, "n": 5});
        assert_eq!(at_path(&body, "authed_user.access_token"), Some(&json!("t")));
        assert_eq!(at_path(&body, "authed_user.scopes.1"), Some(&json!("b")));
        assert_eq!(at_path(&body, "authed_user.missing"), None);
        assert_eq!(at_path(&body, "n.x"), None);
        assert!(BodyMatch { path: "n".into(), equals: "5".into() }.matches(&body));
    }

    #[test]
    fn paths_and_error_codes_are_checked() {
        assert_eq!(path(" authed_user.access_token ").unwrap(), "authed_user.access_token");
        for bad in ["", "a..b", "a.b.c.d.e.f", "a b", "a/b", "$.a", &"x".repeat(101)] {
            assert!(path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(error_code("BAD_REFRESH_TOKEN").unwrap(), "BAD_REFRESH_TOKEN");
        assert!(error_code("bad code").is_err() && error_code("").is_err());
    }
}
