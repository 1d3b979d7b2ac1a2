//! What the JSON API (and an imported definitions file, which holds what the API's create takes)
//! asks of a service's input on top of the shared rules (`domain::service_input`), so that it refuses
//! whatever the OpenAPI document calls invalid. The edit form sends every section and picks options
//! from fixed lists, so these would not fit it; a script writes what it likes:
//!
//! - an option is one of the document's values exactly (the shared rules trim it, and take a blank
//!   for the default; any other value they refuse themselves);
//! - a section belongs to its authentication type: `api_key` to API Key services, `oauth2` to OAuth2
//!   ones (the shared rules skip the other sections, so mistakes in them would pass unseen);
//! - `oauth2.token_placement.prefix` belongs to header placement.

use crate::domain::service::AuthType;
use crate::domain::service_input::ServiceInput;
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};

/// Checks `input` for a new service (`current` is `None`) or a change to one of type `current`.
pub fn check(input: &ServiceInput, current: Option<AuthType>) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    let auth_type = match input.auth_type.as_deref() {
        None => current,
        Some(raw) => {
            one_of(&mut errors, "auth_type", Some(raw), &["api_key", "basic", "oauth2"]);
            AuthType::parse(raw)
        }
    };
    if let Some(api_key) = &input.api_key {
        if auth_type.is_some_and(|t| t != AuthType::ApiKey) {
            push(&mut errors, "api_key", "Only API Key services have API key parameters: leave api_key out.");
        }
        one_of(
            &mut errors,
            "api_key.param_type",
            api_key.param_type.as_deref(),
            &["query", "form", "header"],
        );
    }
    if let Some(oauth2) = &input.oauth2 {
        if auth_type.is_some_and(|t| t != AuthType::OAuth2) {
            push(&mut errors, "oauth2", "Only OAuth2 services have OAuth2 settings: leave oauth2 out.");
        }
        one_of(
            &mut errors,
            "oauth2.grant_type",
            oauth2.grant_type.as_deref(),
            &["authorization_code", "client_credentials"],
        );
        one_of(&mut errors, "oauth2.client_auth", oauth2.client_auth.as_deref(), &["basic", "body"]);
        one_of(
            &mut errors,
            "oauth2.token_request_format",
            oauth2.token_request_format.as_deref(),
            &["form", "json"],
        );
        if let Some(mapping) = &oauth2.token_response {
            one_of(
                &mut errors,
                "oauth2.token_response.expires_in_unit",
                mapping.expires_in_unit.as_deref(),
                &["seconds", "milliseconds"],
            );
        }
        for (i, capture) in oauth2.captured_values.iter().flatten().enumerate() {
            let field = |f: &str| format!("oauth2.captured_values.{i}.{f}");
            one_of(&mut errors, &field("source"), capture.source.as_deref(), &["callback", "token_response"]);
            one_of(&mut errors, &field("kind"), capture.kind.as_deref(), &["label", "origin"]);
        }
        let delimiters = [" ", ",", "+", "space", "comma", "plus"];
        one_of(&mut errors, "oauth2.scope_delimiter", oauth2.scope_delimiter.as_deref(), &delimiters);
        if let Some(placement) = &oauth2.token_placement {
            one_of(
                &mut errors,
                "oauth2.token_placement.in",
                placement.location.as_deref(),
                &["header", "query"],
            );
            let prefix = placement.prefix.as_deref().map(str::trim).unwrap_or_default();
            if placement.location.as_deref() == Some("query") && !prefix.is_empty() {
                push(
                    &mut errors,
                    "oauth2.token_placement.prefix",
                    "Only header placement has a prefix: leave it out.",
                );
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Invalid(errors)) }
}

/// An option, when sent, is one of `allowed` exactly. The shared rules refuse any other value with
/// their own message, except a blank one or one with whitespace around it, which they take.
fn one_of(errors: &mut FieldErrors, field: &str, raw: Option<&str>, allowed: &[&str]) {
    let Some(raw) = raw.filter(|raw| !allowed.contains(raw)) else { return };
    if raw.trim().is_empty() || allowed.contains(&raw.trim()) {
        let shown: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        push(errors, field, format!("Use one of {}, exactly as written.", shown.join(", ")));
    }
}
