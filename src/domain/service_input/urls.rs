//! A service's URL fields: blank or not, and each checked with the connection variables and
//! captured values it may name at the moment it is used (`captures::Stage`).

use crate::domain::captures::{self, CapturedValue, Stage};
use crate::domain::validate::push;
use crate::domain::variables::ConnectionVariable;
use crate::error::FieldErrors;

use super::opt;

/// What a service's URLs are checked against: whether plain http is allowed, and the connection
/// variables and captured values they may name.
pub(in crate::domain) struct Urls<'a> {
    pub allow_http: bool,
    pub declared: &'a [ConnectionVariable],
    pub captures: &'a [CapturedValue],
}

/// An optional URL field: blank is `None`, anything else must be a valid service URL (which may
/// name the service's connection variables, and the captured values available at `stage`).
pub(in crate::domain) fn opt_url(
    errors: &mut FieldErrors,
    field: &str,
    raw: &Option<String>,
    urls: &Urls,
    stage: Stage,
) -> Option<String> {
    let sent = raw.as_deref()?;
    if sent.trim().is_empty() && sent.chars().count() <= 2048 {
        return None;
    }
    captures::url_template(sent, urls.allow_http, urls.declared, urls.captures, stage)
        .map_err(|e| push(errors, field, e))
        .ok()
}

pub(in crate::domain) fn req_url(
    errors: &mut FieldErrors,
    field: &str,
    raw: &Option<String>,
    urls: &Urls,
    stage: Stage,
    what: &str,
) -> Option<String> {
    if opt(raw).is_none() {
        push(errors, field, format!("Enter the {what}."));
        return None;
    }
    opt_url(errors, field, raw, urls, stage)
}
