//! Where a service's URLs may name captured values. A value exists only from the moment the
//! provider returns it: the authorization URL is visited before any, the access token URL after the
//! callback (so it may name callback values, which is how Zoho's data centre picks the token URL),
//! and everything else after the token response. An origin value stands for the whole origin and so
//! starts the URL (`{api_domain}/crm/v6`); a label value follows the rules of a connection variable.

use super::{CapturedValue, Kind, Source};
use crate::domain::variables::{self, ConnectionVariable};

/// When a URL is used, which says which captured values it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The authorization URL: before the provider returned anything.
    Consent,
    /// The access token URL: after the callback, before the token response.
    Exchange,
    /// The refresh and revoke URLs and the API base URL: once connected.
    Connected,
}

/// The host that stands for an origin value while the rest of a URL is checked.
const SAMPLE_ORIGIN: &str = "https://zzorigin.example";

/// Checks a service URL that may name connection variables and captured values (each declared, each
/// available at `stage`, an origin value only at the start). Returns the URL to store: normalised
/// when it names neither, as written (trimmed) otherwise.
pub fn url_template(
    raw: &str,
    allow_http: bool,
    variables: &[ConnectionVariable],
    captures: &[CapturedValue],
    stage: Stage,
) -> Result<String, String> {
    let used = variables::placeholders(raw)?;
    let captured = |name: &str| captures.iter().find(|c| c.name == name);
    if let Some(unknown) =
        used.iter().find(|n| captured(n).is_none() && !variables.iter().any(|v| v.name == **n))
    {
        return Err(format!(
            "{{{unknown}}} is not a connection variable or a captured value of this service: declare it \
             under Connection variables or Captured values, or remove it."
        ));
    }
    for c in used.iter().filter_map(|n| captured(n)) {
        match (stage, c.source) {
            (Stage::Consent, _) => {
                return Err(format!(
                    "{{{}}} is returned by the provider when connecting: the authorization URL is visited \
                     before that, so it cannot name it.",
                    c.name
                ));
            }
            (Stage::Exchange, Source::TokenResponse) => {
                return Err(format!(
                    "{{{}}} comes from the token response, which this URL is called to get: it can only \
                     name values from the callback.",
                    c.name
                ));
            }
            _ => {}
        }
    }
    let text = raw.trim();
    let mut origins: Vec<&CapturedValue> =
        used.iter().filter_map(|n| captured(n)).filter(|c| c.kind == Kind::Origin).collect();
    origins.dedup_by_key(|c| &c.name);
    let checked = match origins.as_slice() {
        [] => text.to_owned(),
        [origin] => {
            let head = format!("{{{}}}", origin.name);
            let rest = text
                .strip_prefix(&head)
                .filter(|rest| (rest.is_empty() || rest.starts_with(['/', '?'])) && !rest.contains(&head));
            let Some(rest) = rest else {
                return Err(format!(
                    "{head} stands for a whole origin (scheme, host and port): write it once, at the very \
                     start, followed by the path (e.g. {head}/api/v1)."
                ));
            };
            format!("{SAMPLE_ORIGIN}{rest}")
        }
        _ => return Err("A URL can start with one origin value only.".into()),
    };
    let labels: Vec<ConnectionVariable> = captures
        .iter()
        .filter(|c| c.kind == Kind::Label)
        .map(|c| ConnectionVariable { name: c.name.clone(), display_name: c.display_name.clone() })
        .chain(variables.iter().cloned())
        .collect();
    let stored = variables::url_template(&checked, allow_http, &labels)?;
    Ok(if used.is_empty() { stored } else { text.to_owned() })
}
