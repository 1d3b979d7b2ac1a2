//! Connection variables: per-connection values (a Zendesk `subdomain`, a Shopify `shop`) that a
//! service's URLs name as `{subdomain}`. A service declares them, each connection gives a value when
//! it is created, and `resolve` substitutes them into every URL the connection sends to.
//!
//! Values are DNS labels, so a value can only ever change one label of a host or one segment of a
//! path: never the registrable domain, the port or the scheme. A variable in a host must be a whole
//! label left of a fixed suffix with at least one dot, so that a connection cannot send credentials
//! to a host of its own choosing.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::service::ServiceConfig;
use crate::domain::validate::{self, push};
use crate::error::FieldErrors;

/// At most this many variables per service.
pub const MAX_VARIABLES: usize = 5;

/// One variable a service asks for when a connection is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionVariable {
    /// snake_case, at most 30 characters: written `{name}` in the service's URLs.
    pub name: String,
    pub display_name: String,
}

/// A connection's values, by variable name.
pub type Values = BTreeMap<String, String>;

/// A connection's stored values (a JSON object); none when absent or unreadable.
pub fn parse(stored: Option<&str>) -> Values {
    stored.and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or_default()
}

/// Values as stored: a JSON object, or none when there are none.
pub fn to_json(values: &Values) -> Option<String> {
    (!values.is_empty()).then(|| serde_json::to_string(values).unwrap_or_else(|_| "{}".into()))
}

/// Checks a service's declared variables: snake_case names of at most 30 characters, unique, a label
/// each, at most `MAX_VARIABLES`.
pub fn declarations(errors: &mut FieldErrors, rows: &[ConnectionVariable]) -> Vec<ConnectionVariable> {
    if rows.len() > MAX_VARIABLES {
        push(errors, "connection_variables", format!("Use at most {MAX_VARIABLES} connection variables."));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let name = validate::link_name(&row.name)
            .and_then(|n| match n.len() {
                ..=30 => Ok(n),
                _ => Err("Use at most 30 characters.".into()),
            })
            .map_err(|e| push(errors, format!("connection_variables.{i}.name"), e))
            .ok();
        if let Some(n) = &name
            && !seen.insert(n.clone())
        {
            push(errors, format!("connection_variables.{i}.name"), "This variable is already listed.");
        }
        let display = validate::display_name(&row.display_name, 100)
            .map_err(|e| push(errors, format!("connection_variables.{i}.display_name"), e))
            .ok();
        if let (Some(name), Some(display_name)) = (name, display) {
            out.push(ConnectionVariable { name, display_name });
        }
    }
    out
}

/// The `{name}`s a text holds, in order (repeats kept); `Err` for an unclosed or empty brace.
pub fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("A } has no matching {: write a variable as {name}.".into());
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("A { is not closed: write a variable as {name}.")?;
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return Err("Write a variable as {name}, e.g. {subdomain}.".into());
        }
        found.push(name);
        rest = &after[close + 1..];
    }
    Ok(found)
}

/// `text` with every `{name}` replaced by `value(name)`.
fn substitute_with(text: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        out.push_str(&value(&rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The label that stands for the `i`th variable name while a template is parsed as a URL.
fn marker(i: usize) -> String {
    format!("zzvar{i}zz")
}

/// A template with each variable replaced by its marker, and the names in marker order.
fn with_markers(template: &str) -> (String, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let text = substitute_with(template, |name| {
        let i = names.iter().position(|n| n == name).unwrap_or_else(|| {
            names.push(name.to_owned());
            names.len() - 1
        });
        marker(i)
    });
    (text, names)
}

/// Checks a service URL that may name variables: each must be declared; in the host, each must be a
/// whole label left of a fixed suffix with at least one dot. Returns the URL to store: normalised
/// when it names none, as written (trimmed) otherwise, since normalising would percent-encode the
/// braces of a path.
pub fn url_template(raw: &str, allow_http: bool, declared: &[ConnectionVariable]) -> Result<String, String> {
    let used = placeholders(raw)?;
    if used.is_empty() {
        return validate::service_url(raw, allow_http);
    }
    if let Some(unknown) = used.iter().find(|u| !declared.iter().any(|d| d.name == **u)) {
        return Err(format!(
            "{{{unknown}}} is not a connection variable of this service: declare it under Connection \
             variables, or remove it."
        ));
    }
    let (sample, names) = with_markers(raw.trim());
    validate::service_url(&sample, allow_http)?;
    let url = Url::parse(&sample).map_err(|_| "Enter an absolute URL.".to_owned())?;
    let host = url.host_str().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    let is_marker = |label: &str| (0..names.len()).any(|i| marker(i) == label);
    if labels.iter().any(|l| !is_marker(l) && (0..names.len()).any(|i| l.contains(&marker(i)))) {
        return Err("A variable in the host must be a whole label, e.g. https://{subdomain}.zendesk.com: \
                    the rest of the host stays fixed."
            .into());
    }
    if let Some(last) = labels.iter().rposition(|l| is_marker(l))
        && labels.len() - last - 1 < 2
    {
        return Err("A variable in the host must sit left of a fixed domain with at least one dot (e.g. \
                    https://{subdomain}.zendesk.com): the registrable domain must be fixed, so that a \
                    connection cannot send credentials to a host of its own choosing."
            .into());
    }
    Ok(raw.trim().to_owned())
}

/// The origin of a URL that may name variables, with a host variable kept as `{name}`
/// (`https://{subdomain}.zendesk.com:443`); a plain URL's origin as `destinations::origin_of` gives.
pub fn origin_pattern(template: &str) -> Option<String> {
    let (sample, names) = with_markers(template);
    let mut origin = super::destinations::origin_of(&sample)?;
    for (i, name) in names.iter().enumerate() {
        origin = origin.replace(&marker(i), &format!("{{{name}}}"));
    }
    Some(origin)
}

/// A CSP source for a URL that may name variables: its origin, or for a host with variables
/// `scheme://*.<fixed domain>` (a wildcard may only lead a CSP host).
pub fn csp_source(template: &str) -> Option<String> {
    let (sample, names) = with_markers(template);
    let origin = Url::parse(&sample).ok()?.origin().ascii_serialization();
    let last = (0..names.len()).filter_map(|i| origin.rfind(&format!("{}.", marker(i)))).max();
    match last {
        None => Some(origin),
        Some(at) => {
            let (scheme, _) = origin.split_once("://")?;
            let fixed = &origin[at..].split_once('.')?.1;
            Some(format!("{scheme}://*.{fixed}"))
        }
    }
}

/// Whether an origin (`https://acme.zendesk.com:443`) is one of a pattern's: each `{name}` label
/// stands for exactly one DNS label, everything else must be equal. A pattern may list alternatives
/// (`captures::ALTERNATIVES` between them): the origins an origin capture's allow-list can give.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    pattern.split(crate::domain::captures::ALTERNATIVES).any(|one| one_origin_matches(one, origin))
}

fn one_origin_matches(pattern: &str, origin: &str) -> bool {
    if pattern == origin {
        return true;
    }
    let split = |o: &str| -> Option<(String, Vec<String>, String)> {
        let (scheme, rest) = o.split_once("://")?;
        let (host, port) = rest.rsplit_once(':')?;
        Some((scheme.to_owned(), host.split('.').map(str::to_owned).collect(), port.to_owned()))
    };
    let (Some((ps, ph, pp)), Some((os, oh, op))) = (split(pattern), split(origin)) else {
        return false;
    };
    ps == os
        && pp == op
        && ph.len() == oh.len()
        && ph.iter().zip(&oh).all(|(p, o)| {
            if p.starts_with('{') && p.ends_with('}') { label(o).is_ok_and(|l| l == *o) } else { p == o }
        })
}

/// A connection variable's value: a DNS label — lower-cased, letters, digits and hyphens, 1–63
/// characters, not starting or ending with a hyphen. A dot, slash, `@`, colon or space is refused,
/// so a value can never reach past its label.
pub fn label(raw: &str) -> Result<String, String> {
    let value = raw.trim().to_ascii_lowercase();
    if value.is_empty() {
        return Err("Enter a value.".into());
    }
    let ok = value.len() <= 63
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !ok {
        return Err("Use 1–63 letters, digits and hyphens, not starting or ending with a hyphen (one DNS \
                    label such as acme; no dots, slashes, @, colons or spaces)."
            .into());
    }
    Ok(value)
}

/// Checks a new connection's values against its service's variables: one valid label each, no
/// others. Errors are keyed `variables.<name>`.
pub fn values(errors: &mut FieldErrors, declared: &[ConnectionVariable], sent: &Values) -> Values {
    for name in sent.keys().filter(|n| !declared.iter().any(|d| &d.name == *n)) {
        push(errors, "variables", format!("{name:?} is not a connection variable of this service."));
    }
    let mut out = Values::new();
    for var in declared {
        match label(sent.get(&var.name).map(String::as_str).unwrap_or_default()) {
            Ok(value) => {
                out.insert(var.name.clone(), value);
            }
            Err(e) => push(errors, format!("variables.{}", var.name), e),
        }
    }
    out
}

/// `template` with each `{name}` replaced by the connection's value; `Err(name)` for a variable the
/// connection has no value for.
pub fn substitute(template: &str, values: &Values) -> Result<String, String> {
    substitute_keeping(template, values, &[])
}

/// `substitute`, except that a name of `pending` without a value stays `{name}` (a captured value
/// the provider has not returned yet): such a URL is never sent to (see `ops::entrust`).
fn substitute_keeping(template: &str, values: &Values, pending: &[&str]) -> Result<String, String> {
    let mut missing = None;
    let out = substitute_with(template, |name| match values.get(name) {
        Some(v) => v.clone(),
        None if pending.contains(&name) => format!("{{{name}}}"),
        None => {
            missing.get_or_insert_with(|| name.to_owned());
            String::new()
        }
    });
    missing.map_or(Ok(out), Err)
}

/// A service's API base URL and settings with a connection's values substituted into every URL it
/// sends to: the one place a connection's URLs are resolved. `Err(name)` for a missing value.
pub fn resolve(
    api_base_url: Option<&str>,
    config: &ServiceConfig,
    values: &Values,
) -> Result<(Option<String>, ServiceConfig), String> {
    resolve_keeping(api_base_url, config, values, &[])
}

/// `resolve`, with the names of `pending` left in place when the connection has no value for them.
pub fn resolve_keeping(
    api_base_url: Option<&str>,
    config: &ServiceConfig,
    values: &Values,
    pending: &[&str],
) -> Result<(Option<String>, ServiceConfig), String> {
    let one = |u: &str| substitute_keeping(u, values, pending);
    let some = |u: &Option<String>| u.as_deref().map(one).transpose();
    let api = api_base_url.map(one).transpose()?;
    let config = match config {
        ServiceConfig::OAuth2(o) => {
            let mut o = o.clone();
            o.authorization_url = some(&o.authorization_url)?;
            o.token_url = one(&o.token_url)?;
            o.refresh_url = some(&o.refresh_url)?;
            o.revoke_url = some(&o.revoke_url)?;
            ServiceConfig::OAuth2(o)
        }
        other => other.clone(),
    };
    Ok((api, config))
}

#[cfg(test)]
mod tests;
