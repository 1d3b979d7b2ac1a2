//! Validation of a service's OAuth2 section: grant, endpoints, client authentication, token
//! placement, extra authorization parameters and scopes.

use std::collections::HashSet;

use crate::domain::captures::{Source, Stage};
use crate::domain::service::*;
use crate::domain::service_input::{
    ExtraParams, MAX_ROWS, OAuthInput, PlacementInput, RESERVED_AUTH_PARAMS, Urls, opt, opt_url, req_url,
};
use crate::domain::validate::{self, push};
use crate::error::FieldErrors;

pub(super) fn oauth(errors: &mut FieldErrors, raw: &OAuthInput, urls: &Urls) -> Option<OAuthConfig> {
    let grant_type = match opt(&raw.grant_type).unwrap_or("authorization_code") {
        "authorization_code" => Some(GrantType::AuthorizationCode),
        "client_credentials" => Some(GrantType::ClientCredentials),
        _ => {
            push(errors, "oauth2.grant_type", "Choose Authorization Code or Client Credentials.");
            None
        }
    };
    let client_id = opt(&raw.client_id).map(str::to_owned);
    let sent = raw.client_id.as_deref().unwrap_or_default();
    match &client_id {
        None => push(errors, "oauth2.client_id", "Enter the client ID."),
        Some(_) if sent.chars().count() > 500 || sent.chars().any(char::is_control) => {
            push(errors, "oauth2.client_id", "Use at most 500 characters and no control characters.")
        }
        _ => {}
    }
    let (consent, exchange, connected) = (Stage::Consent, Stage::Exchange, Stage::Connected);
    let authorization_url = match grant_type {
        Some(GrantType::AuthorizationCode) => req_url(
            errors,
            "oauth2.authorization_url",
            &raw.authorization_url,
            urls,
            consent,
            "authorization URL",
        ),
        _ => opt_url(errors, "oauth2.authorization_url", &raw.authorization_url, urls, consent),
    };
    let token_url = req_url(errors, "oauth2.token_url", &raw.token_url, urls, exchange, "access token URL");
    let refresh_url = opt_url(errors, "oauth2.refresh_url", &raw.refresh_url, urls, connected);
    let revoke_url = opt_url(errors, "oauth2.revoke_url", &raw.revoke_url, urls, connected);
    if grant_type == Some(GrantType::ClientCredentials)
        && let Some(i) = urls.captures.iter().position(|c| c.source == Source::Callback)
    {
        push(
            errors,
            format!("oauth2.captured_values.{i}.source"),
            "The Client Credentials grant has no callback: read this value from the token response.",
        );
    }
    let issuer = opt(&raw.issuer).map(str::to_owned);
    let long = raw.issuer.as_deref().is_some_and(|i| i.chars().count() > 2048);
    if long || issuer.as_ref().is_some_and(|i| url::Url::parse(i).is_err()) {
        push(
            errors,
            "oauth2.issuer",
            "Enter the issuer identifier as a URL (e.g. https://accounts.example.com).",
        );
    }
    let client_auth = match opt(&raw.client_auth).unwrap_or("basic") {
        "basic" => Some(ClientAuth::Basic),
        "body" => Some(ClientAuth::Body),
        _ => {
            push(errors, "oauth2.client_auth", "Choose the HTTP Basic header or the request body.");
            None
        }
    };
    let scope_delimiter = match raw.scope_delimiter.as_deref().unwrap_or(" ") {
        "" | " " | "space" => Some(" "),
        "," | "comma" => Some(","),
        "+" | "plus" => Some("+"),
        _ => {
            push(errors, "oauth2.scope_delimiter", "Choose space, comma or plus.");
            None
        }
    };
    let token_placement = placement(errors, raw.token_placement.as_ref());
    let extra_auth_params = extra_params(errors, raw.extra_auth_params.as_ref());
    let scopes = scopes(errors, raw.scopes.as_deref().unwrap_or(&[]), scope_delimiter.unwrap_or(" "));
    // Counted as sent: a repeated status counts too.
    let mut refresh_on_status = raw.refresh_on_status.clone().unwrap_or_default();
    let listed = refresh_on_status.len();
    refresh_on_status.sort_unstable();
    refresh_on_status.dedup();
    if listed > 5 || refresh_on_status.iter().any(|s| !(400..=599).contains(s)) {
        push(errors, "oauth2.refresh_on_status", "List at most 5 HTTP error statuses (400–599), e.g. 403.");
    }
    let differences = super::service_provider::differences(errors, raw);
    let d = differences?;
    Some(OAuthConfig {
        grant_type: grant_type?,
        client_id: client_id?,
        authorization_url,
        token_url: token_url?,
        refresh_url,
        revoke_url,
        issuer,
        client_auth: client_auth?,
        scope_delimiter: scope_delimiter?.to_owned(),
        token_placement: token_placement?,
        extra_auth_params,
        scopes,
        refresh_on_status,
        token_request_format: d.token_request_format,
        pkce: d.pkce,
        scope_on_refresh: d.scope_on_refresh,
        token_response: d.token_response,
        dead_grant_errors: d.dead_grant_errors,
        client_refused_errors: d.client_refused_errors,
        expired_when: d.expired_when,
        keep_alive_days: d.keep_alive_days,
        captured_values: urls.captures.to_vec(),
    })
}

fn placement(errors: &mut FieldErrors, raw: Option<&PlacementInput>) -> Option<TokenPlacement> {
    let empty = PlacementInput::default();
    let raw = raw.unwrap_or(&empty);
    match opt(&raw.location).unwrap_or("header") {
        "header" => {
            let name = validate::credential_header_name(opt(&raw.name).unwrap_or("Authorization"))
                .map_err(|e| push(errors, "oauth2.token_placement.name", e))
                .ok();
            let prefix = raw.prefix.as_deref().map(str::trim).unwrap_or("Bearer").to_owned();
            if prefix.chars().count() > 50 || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
                push(
                    errors,
                    "oauth2.token_placement.prefix",
                    "Use one word of at most 50 characters (e.g. Bearer).",
                );
                return None;
            }
            Some(TokenPlacement::Header { name: name?, prefix })
        }
        "query" => {
            let name = validate::param_name(opt(&raw.name).unwrap_or("access_token"))
                .map_err(|e| push(errors, "oauth2.token_placement.name", e))
                .ok()?;
            Some(TokenPlacement::Query { name })
        }
        _ => {
            push(errors, "oauth2.token_placement.in", "Choose Header or Query string.");
            None
        }
    }
}

fn extra_params(errors: &mut FieldErrors, raw: Option<&ExtraParams>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let rows = raw.map_or(&[][..], |p| p.0.as_slice());
    if rows.len() > MAX_ROWS {
        push(errors, "oauth2.extra_auth_params", format!("Use at most {MAX_ROWS} parameters."));
    }
    let mut seen = HashSet::new();
    for (key, value) in rows {
        let field = format!("oauth2.extra_auth_params.{}", key.trim());
        match validate::param_name(key) {
            Err(e) => push(errors, "oauth2.extra_auth_params", format!("{key:?}: {e}")),
            Ok(k) if RESERVED_AUTH_PARAMS.contains(&k.as_str()) => {
                push(errors, field, format!("{k} is set by Connections itself and cannot be overridden."))
            }
            Ok(k) if !seen.insert(k.clone()) => push(errors, field, "This parameter is listed twice."),
            Ok(_) if value.chars().count() > 500 || value.chars().any(char::is_control) => {
                push(errors, field, "Use at most 500 characters and no control characters.")
            }
            Ok(k) => out.push((k, value.trim().to_owned())),
        }
    }
    out
}

fn scopes(errors: &mut FieldErrors, rows: &[Scope], delimiter: &str) -> Vec<Scope> {
    if rows.len() > MAX_ROWS {
        push(errors, "oauth2.scopes", format!("Use at most {MAX_ROWS} scopes."));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let scope = row.scope.trim();
        let field = format!("oauth2.scopes.{i}.scope");
        if scope.is_empty() {
            push(errors, field, "Enter the scope.");
            continue;
        }
        let long = row.scope.chars().count() > 200;
        if long || scope.chars().any(|c| c.is_whitespace() || c.is_control()) || scope.contains(delimiter) {
            push(errors, field, "Use at most 200 characters, without spaces or the scope delimiter.");
            continue;
        }
        if !seen.insert(scope.to_owned()) {
            push(errors, field, "This scope is already listed.");
            continue;
        }
        let display = if row.display_name.trim().is_empty() { scope } else { row.display_name.as_str() };
        if row.display_name.chars().count() > 100 {
            push(errors, format!("oauth2.scopes.{i}.display_name"), "Use at most 100 characters.");
            continue;
        }
        match validate::display_name(display, 100) {
            Ok(display_name) => out.push(Scope { scope: scope.to_owned(), display_name }),
            Err(e) => push(errors, format!("oauth2.scopes.{i}.display_name"), e),
        }
    }
    out
}
