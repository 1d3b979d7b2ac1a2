//! Validation of a service's provider differences (`domain::provider`): the token request format,
//! PKCE, scope on refresh, the token response's paths and unit, the extra error codes, the expiry
//! body match and the keep-alive interval. Field keys follow the JSON shape, as elsewhere.

use std::collections::HashSet;

use crate::domain::provider::{self, BodyMatch, MAX_ERROR_CODES, RequestFormat, ResponseMapping, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::domain::service_input::{OAuthInput, opt};
use crate::domain::validate::push;
use crate::error::FieldErrors;

/// Where a token response puts its fields, as sent: a field left out keeps its standard name.
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct ResponseMappingInput {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<String>,
    pub refresh_token_expires_in: Option<String>,
    pub scope: Option<String>,
    pub expires_in_unit: Option<String>,
}

#[derive(Clone, Default, Deserialize, Serialize)]
pub struct BodyMatchInput {
    pub path: Option<String>,
    pub equals: Option<String>,
}

/// The longest keep-alive interval, in days.
pub const MAX_KEEP_ALIVE_DAYS: u32 = 365;

/// The provider differences of a valid service.
pub(super) struct Differences {
    pub token_request_format: RequestFormat,
    pub pkce: bool,
    pub scope_on_refresh: bool,
    pub token_response: ResponseMapping,
    pub dead_grant_errors: Vec<String>,
    pub client_refused_errors: Vec<String>,
    pub expired_when: Option<BodyMatch>,
    pub keep_alive_days: Option<u32>,
}

pub(super) fn differences(errors: &mut FieldErrors, raw: &OAuthInput) -> Option<Differences> {
    let token_request_format = match opt(&raw.token_request_format).unwrap_or("form") {
        "form" => Some(RequestFormat::Form),
        "json" => Some(RequestFormat::Json),
        _ => {
            push(errors, "oauth2.token_request_format", "Choose form or json.");
            None
        }
    };
    let token_response = mapping(errors, raw.token_response.as_ref());
    let dead_grant_errors = codes(errors, "oauth2.dead_grant_errors", raw.dead_grant_errors.as_deref());
    let client_refused_errors =
        codes(errors, "oauth2.client_refused_errors", raw.client_refused_errors.as_deref());
    let expired_when = body_match(errors, raw.expired_when.as_ref());
    let keep_alive_days = match raw.keep_alive_days {
        None | Some(0) => None,
        Some(days) if days <= MAX_KEEP_ALIVE_DAYS => Some(days),
        Some(_) => {
            push(
                errors,
                "oauth2.keep_alive_days",
                format!("Use 1 to {MAX_KEEP_ALIVE_DAYS} days, or 0 for none."),
            );
            None
        }
    };
    Some(Differences {
        token_request_format: token_request_format?,
        pkce: raw.pkce.unwrap_or(true),
        scope_on_refresh: raw.scope_on_refresh.unwrap_or(false),
        token_response: token_response?,
        dead_grant_errors,
        client_refused_errors,
        expired_when: expired_when.ok()?,
        keep_alive_days,
    })
}

fn mapping(errors: &mut FieldErrors, raw: Option<&ResponseMappingInput>) -> Option<ResponseMapping> {
    let empty = ResponseMappingInput::default();
    let raw = raw.unwrap_or(&empty);
    let standard = ResponseMapping::default();
    let mut ok = true;
    // Blank (and within the length limit, as the document says) is the standard name.
    let mut path = |field: &str, sent: &Option<String>, default: &str| match sent.as_deref() {
        None => default.to_owned(),
        Some(p) if p.trim().is_empty() && p.chars().count() <= 100 => default.to_owned(),
        Some(p) => provider::path(p).unwrap_or_else(|e| {
            push(errors, format!("oauth2.token_response.{field}"), e);
            ok = false;
            String::new()
        }),
    };
    let access_token = path("access_token", &raw.access_token, &standard.access_token);
    let refresh_token = path("refresh_token", &raw.refresh_token, &standard.refresh_token);
    let expires_in = path("expires_in", &raw.expires_in, &standard.expires_in);
    let refresh_token_expires_in =
        path("refresh_token_expires_in", &raw.refresh_token_expires_in, &standard.refresh_token_expires_in);
    let scope = path("scope", &raw.scope, &standard.scope);
    let expires_in_unit = match opt(&raw.expires_in_unit).unwrap_or("seconds") {
        "seconds" => Some(TimeUnit::Seconds),
        "milliseconds" => Some(TimeUnit::Milliseconds),
        _ => {
            push(errors, "oauth2.token_response.expires_in_unit", "Choose seconds or milliseconds.");
            None
        }
    };
    let mapping = ResponseMapping {
        access_token,
        refresh_token,
        expires_in,
        refresh_token_expires_in,
        scope,
        expires_in_unit: expires_in_unit?,
    };
    ok.then_some(mapping)
}

fn codes(errors: &mut FieldErrors, field: &str, raw: Option<&[String]>) -> Vec<String> {
    let raw = raw.unwrap_or(&[]);
    if raw.len() > MAX_ERROR_CODES {
        push(errors, field, format!("List at most {MAX_ERROR_CODES} error codes."));
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for code in raw {
        match provider::error_code(code) {
            Ok(code) if seen.insert(code.to_ascii_lowercase()) => out.push(code),
            Ok(code) => push(errors, field, format!("{code} is listed twice.")),
            Err(e) => push(errors, field, e),
        }
    }
    out
}

/// The expiry body match; `Err` when it is invalid (reported), `Ok(None)` when there is none.
fn body_match(errors: &mut FieldErrors, raw: Option<&BodyMatchInput>) -> Result<Option<BodyMatch>, ()> {
    let Some(raw) = raw else { return Ok(None) };
    let long_blank = raw.path.as_deref().is_some_and(|p| p.chars().count() > 100);
    let Some(path) = opt(&raw.path).or(long_blank.then_some("")) else {
        if opt(&raw.equals).is_some() {
            push(errors, "oauth2.expired_when.path", "Enter the path whose value means the token expired.");
            return Err(());
        }
        return Ok(None);
    };
    let path = provider::path(path).map_err(|e| push(errors, "oauth2.expired_when.path", e))?;
    let sent = raw.equals.as_deref().unwrap_or_default();
    let equals = sent.trim();
    if equals.is_empty() || sent.chars().count() > 200 || sent.chars().any(char::is_control) {
        push(
            errors,
            "oauth2.expired_when.equals",
            "Enter the value that means the token expired (e.g. token_expired), at most 200 characters.",
        );
        return Err(());
    }
    Ok(Some(BodyMatch { path, equals: equals.to_owned() }))
}
