//! An origin capture's allow-list: origins (`https://accounts.zoho.eu`), origin patterns whose first
//! label is any one DNS label (`https://*.my.salesforce.com`), and `value => origin` pairs for a
//! provider that names its data centre with a word (`eu => https://desk.zoho.eu`). What a connection
//! keeps is always an origin the list itself names or matches.

use url::Url;

use crate::domain::destinations::{origin_of, shown};
use crate::domain::variables::origin_matches;

/// How a destination pattern lists alternatives (`https://a:443 | https://b:443`): what the client
/// secret of a service whose token URL starts with an origin capture is entrusted to.
pub const ALTERNATIVES: &str = " | ";

/// The separator of a `value => origin` pair.
const ARROW: &str = "=>";
/// The label that stands for `*` while a pattern is parsed as a URL.
const WILD: &str = "zzwildzz";

/// One entry of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An origin the provider's value must be (`https://accounts.zoho.eu:443`), where a first label
    /// `{*}` stands for any one DNS label (`https://{*}.my.salesforce.com:443`).
    Pattern(String),
    /// The provider sends `value` exactly; the connection keeps `origin`.
    Map { value: String, origin: String },
}

/// Reads an entry as written: the entry, and its text as stored (trimmed, the host lower-cased, the
/// scheme's default port left out).
pub fn parse(raw: &str, allow_http: bool) -> Result<(Entry, String), String> {
    if raw.chars().count() > 300 {
        return Err("Use at most 300 characters per entry.".into());
    }
    let text = raw.trim();
    if let Some((value, origin)) = text.split_once(ARROW) {
        let value = value.trim();
        let plain = |c: char| c.is_ascii_alphanumeric() || "_-.:/".contains(c);
        if value.is_empty() || value.len() > 100 || !value.chars().all(plain) {
            return Err(
                "Write value => origin, with the value as the provider sends it (letters, digits, _, -, \
                        ., : and /; at most 100 characters), e.g. eu => https://desk.zoho.eu."
                    .into(),
            );
        }
        let origin = origin_pattern(origin.trim(), allow_http, false)?;
        let stored = format!("{value} => {}", shown(&origin));
        return Ok((Entry::Map { value: value.to_owned(), origin }, stored));
    }
    let pattern = origin_pattern(text, allow_http, true)?;
    Ok((Entry::Pattern(pattern.clone()), shown(&pattern).replacen("{*}", "*", 1)))
}

/// `scheme://host:port` of an origin as written, with a leading `*.` kept as `{*}` when `wildcard`.
fn origin_pattern(text: &str, allow_http: bool, wildcard: bool) -> Result<String, String> {
    let wild = wildcard && text.contains("://*.");
    let sample = if wild { text.replacen("://*.", &format!("://{WILD}."), 1) } else { text.to_owned() };
    if sample.contains('*') {
        return Err(
            "A * may only stand for the first label of the host, e.g. https://*.my.salesforce.com.".into()
        );
    }
    let url =
        Url::parse(&sample).map_err(|_| "Enter an origin such as https://accounts.zoho.eu.".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("Use https (plain http is turned off on this portal).".into()),
        _ => return Err("Use an https origin.".into()),
    }
    if !bare(&sample) || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("Enter only the origin (scheme, host and an optional port), without a path, e.g. \
                    https://accounts.zoho.eu."
            .into());
    }
    let origin = origin_of(url.as_str()).ok_or("The origin needs a host name.")?;
    if !wild {
        return Ok(origin);
    }
    let labels = url.host_str().unwrap_or_default().split('.').count();
    if labels < 3 {
        return Err("A * must sit left of a fixed domain with at least one dot, e.g. \
                    https://*.my.salesforce.com: the registrable domain must be fixed."
            .into());
    }
    Ok(origin.replacen(WILD, "{*}", 1))
}

/// What a connection keeps for `raw`, the provider's value: the origin of a pair whose value it is,
/// or the value's own origin when it is exactly an origin a pattern matches. `None` otherwise.
pub fn choose(entries: &[Entry], raw: &str) -> Option<String> {
    let mapped = entries.iter().find_map(|e| match e {
        Entry::Map { value, origin } if value == raw => Some(shown(origin)),
        _ => None,
    });
    if mapped.is_some() {
        return mapped;
    }
    let origin = as_origin(raw)?;
    entries
        .iter()
        .any(|e| matches!(e, Entry::Pattern(p) if origin_matches(p, &origin)))
        .then(|| shown(&origin))
}

/// Whether `kept`, an origin a connection keeps, is one the list can give.
pub fn gives(entries: &[Entry], kept: &str) -> bool {
    let Some(origin) = as_origin(kept) else { return false };
    entries.iter().any(|e| match e {
        Entry::Pattern(p) => origin_matches(p, &origin),
        Entry::Map { origin: o, .. } => *o == origin,
    })
}

/// The origin `raw` is, when it is nothing more than an origin (a trailing `/` allowed).
fn as_origin(raw: &str) -> Option<String> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    if !bare(raw) {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    let plain = url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    (plain && url.password().is_none() && matches!(url.scheme(), "https" | "http"))
        .then(|| origin_of(url.as_str()))
        .flatten()
}

/// Whether a text is `scheme://host[:port]` with at most a trailing `/`: nothing after the host that
/// a URL parser would read as a path, a query, a fragment or credentials.
fn bare(text: &str) -> bool {
    let Some((_, rest)) = text.split_once("://") else { return false };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty() && !rest.contains(['/', '?', '#', '@', '\\'])
}

/// The origins an allow-list can give, as one destination pattern (`ALTERNATIVES` between them).
pub fn alternatives(entries: &[Entry]) -> Option<String> {
    let mut all: Vec<&str> = Vec::new();
    for e in entries {
        let (Entry::Pattern(o) | Entry::Map { origin: o, .. }) = e;
        if !all.contains(&o.as_str()) {
            all.push(o);
        }
    }
    (!all.is_empty()).then(|| all.join(ALTERNATIVES))
}
