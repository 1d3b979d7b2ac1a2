//! Raw service input — from the HTML form or the JSON API, in one shape — and its validation into a
//! `ValidService`, with a message per field. Field keys follow the JSON shape (`oauth2.client_id`,
//! `api_key.params.0.name`), so forms and the API report errors alike.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::crypto::Secret;
use crate::domain::captures::{self, CaptureInput, Stage};
use crate::domain::service::*;
use crate::domain::service_provider::{BodyMatchInput, ResponseMappingInput};
use crate::domain::validate::{self, push};
use crate::domain::variables::{self, ConnectionVariable};
use crate::error::FieldErrors;

mod api_key;
mod in_use;
mod urls;
use api_key::api_key;
use in_use::{guard_in_use, variables_in_use};
pub(super) use urls::{Urls, opt_url, req_url};

/// Declares an input section (every field optional, as a PATCH may leave any out) and `or`, which
/// fills the fields it leaves out from a base: a setting is written out once, here.
macro_rules! input_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident: Option<$ty:ty>,)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Default, Deserialize, Serialize)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: Option<$ty>,)*
        }

        impl $name {
            /// `self`, with what it leaves out taken from `base`.
            pub fn or(self, base: $name) -> $name {
                $name { $($field: self.$field.or(base.$field),)* }
            }
        }
    };
}

input_section! {
    /// A service as the form or the JSON API sends it.
    pub struct ServiceInput {
        pub name: Option<String>,
        pub link_name: Option<String>,
        pub description: Option<String>,
        pub auth_type: Option<String>,
        /// An empty string clears it.
        pub api_base_url: Option<String>,
        pub api_key: Option<ApiKeyInput>,
        pub oauth2: Option<OAuthInput>,
        /// "GET /me": what Test sends to check a connection. An empty string clears it.
        pub test_request: Option<String>,
        /// The catalogue template a new service starts from (its id); recorded, never changed.
        pub template: Option<String>,
        /// Values each connection gives when it is created, named `{name}` in the URLs.
        pub connection_variables: Option<Vec<ConnectionVariable>>,
    }
}

input_section! {
    pub struct ApiKeyInput {
        pub param_type: Option<String>,
        pub params: Option<Vec<ApiKeyParam>>,
    }
}

input_section! {
    /// The OAuth2 settings as sent; its field names are those of `OAuthConfig`, so that a stored
    /// service reads back into one through serde (`models::service`).
    pub struct OAuthInput {
        pub grant_type: Option<String>,
        pub client_id: Option<String>,
        /// Write-only: blank or absent keeps the stored secret.
        pub client_secret: Option<String>,
        pub authorization_url: Option<String>,
        pub token_url: Option<String>,
        pub refresh_url: Option<String>,
        pub revoke_url: Option<String>,
        pub issuer: Option<String>,
        pub client_auth: Option<String>,
        pub scope_delimiter: Option<String>,
        pub token_placement: Option<PlacementInput>,
        pub extra_auth_params: Option<ExtraParams>,
        pub scopes: Option<Vec<Scope>>,
        pub refresh_on_status: Option<Vec<u16>>,
        /// The provider's differences from RFC 6749 (`domain::provider`).
        pub token_request_format: Option<String>,
        pub pkce: Option<bool>,
        pub scope_on_refresh: Option<bool>,
        pub token_response: Option<ResponseMappingInput>,
        pub dead_grant_errors: Option<Vec<String>>,
        pub client_refused_errors: Option<Vec<String>>,
        /// `path` blank: none.
        pub expired_when: Option<BodyMatchInput>,
        /// 0: none.
        pub keep_alive_days: Option<u32>,
        /// Values the provider returns at connect time (`domain::captures`).
        pub captured_values: Option<Vec<CaptureInput>>,
    }
}

/// Extra authorization parameters as sent — a JSON object or the form's rows — in their order, with
/// repeated names kept so that validation reports them instead of one silently replacing another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraParams(pub Vec<(String, String)>);

impl Serialize for ExtraParams {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ExtraParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = ExtraParams;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of parameter names and string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtraParams, A::Error> {
                let mut rows = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    rows.push(entry);
                }
                Ok(ExtraParams(rows))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[derive(Clone, Default, Deserialize, Serialize)]
pub struct PlacementInput {
    #[serde(rename = "in")]
    pub location: Option<String>,
    pub name: Option<String>,
    pub prefix: Option<String>,
}

/// What happens to the stored client secret.
pub enum SecretChange {
    Keep,
    Set(Secret),
    Clear,
}

/// A service that passed every rule, ready to store.
pub struct ValidService {
    pub name: String,
    pub link_name: String,
    pub description: String,
    pub api_base_url: Option<String>,
    pub config: ServiceConfig,
    pub connection_variables: Vec<ConnectionVariable>,
    pub client_secret: SecretChange,
    pub test_request: Option<String>,
}

/// What the rules need to know about the service being edited.
pub struct Existing<'a> {
    pub link_name: &'a str,
    pub config: &'a ServiceConfig,
    pub connection_variables: &'a [ConnectionVariable],
    pub secret_set: bool,
    pub connection_count: i64,
}

/// Parameters the app sets itself in an authorization request; an extra parameter may not replace them.
pub(super) const RESERVED_AUTH_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

pub(super) const MAX_ROWS: usize = 50;

/// Link names that are paths under `/admin/services/` or `/api/v1/services/`: a service named so
/// could not be reached.
const RESERVED_LINK_NAMES: &[&str] = &["new", "rows", "templates", "bulk", "import", "export"];

impl ServiceInput {
    /// Fills what `self` leaves out from `base` (a PATCH over the stored service), section by section.
    pub fn over(self, base: ServiceInput) -> ServiceInput {
        let api_key = section(self.api_key.clone(), base.api_key.clone(), ApiKeyInput::or);
        let oauth2 = section(self.oauth2.clone(), base.oauth2.clone(), OAuthInput::or);
        ServiceInput { api_key, oauth2, ..self.or(base) }
    }
}

/// A section of a PATCH over the stored one, field by field; a section only one side has as it is.
fn section<T>(patch: Option<T>, base: Option<T>, or: fn(T, T) -> T) -> Option<T> {
    match (patch, base) {
        (Some(p), Some(b)) => Some(or(p, b)),
        (p, b) => p.or(b),
    }
}

pub(super) fn opt(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Checks every rule and returns the valid service, or every problem found.
pub fn validate(
    input: &ServiceInput,
    allow_http: bool,
    existing: Option<&Existing>,
) -> Result<ValidService, FieldErrors> {
    checked(input, allow_http, existing, false)
}

/// `validate` for a new service whose client secret is entered after it is created (an imported
/// one: the format carries no secret), so a grant that needs one is no reason to refuse it.
pub fn validate_secret_later(input: &ServiceInput, allow_http: bool) -> Result<ValidService, FieldErrors> {
    checked(input, allow_http, None, true)
}

fn checked(
    input: &ServiceInput,
    allow_http: bool,
    existing: Option<&Existing>,
    secret_later: bool,
) -> Result<ValidService, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = validate::display_name(input.name.as_deref().unwrap_or(""), 100)
        .map_err(|e| push(&mut errors, "name", e))
        .ok();
    let link_name = match existing {
        Some(e) => Some(e.link_name.to_owned()),
        None => validate::link_name(input.link_name.as_deref().unwrap_or(""))
            .and_then(|l| {
                if RESERVED_LINK_NAMES.contains(&l.as_str()) {
                    Err(format!("“{l}” is reserved for a page of this app; choose another."))
                } else {
                    Ok(l)
                }
            })
            .map_err(|e| push(&mut errors, "link_name", e))
            .ok(),
    };
    let raw_description = input.description.as_deref().unwrap_or("");
    let description = raw_description.trim().to_owned();
    if raw_description.chars().count() > 1000 {
        push(&mut errors, "description", "Use at most 1000 characters.");
    }
    if raw_description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        push(&mut errors, "description", "Remove control characters other than line breaks and tabs.");
    }
    let connection_variables =
        variables::declarations(&mut errors, input.connection_variables.as_deref().unwrap_or(&[]));
    // Captured values are OAuth2's: the other types have no callback and no token response.
    let oauth_input =
        input.oauth2.as_ref().filter(|_| input.auth_type.as_deref().map(str::trim) == Some("oauth2"));
    let captured_values = captures::declarations(
        &mut errors,
        oauth_input.and_then(|o| o.captured_values.as_deref()).unwrap_or_default(),
        &connection_variables,
        allow_http,
    );
    let urls = Urls { allow_http, declared: &connection_variables, captures: &captured_values };
    let api_base_url = opt_url(&mut errors, "api_base_url", &input.api_base_url, &urls, Stage::Connected);
    let test_request = match opt(&input.test_request) {
        _ if input.test_request.as_deref().is_some_and(|raw| raw.chars().count() > 510) => {
            push(&mut errors, "test_request", "Use at most 510 characters.");
            None
        }
        None => None,
        Some(raw) => match test_request(raw) {
            Ok(_) if api_base_url.is_none() => {
                push(
                    &mut errors,
                    "test_request",
                    "A test request needs the API base URL: its path is joined to it.",
                );
                None
            }
            Ok(value) => Some(value),
            Err(e) => {
                push(&mut errors, "test_request", e);
                None
            }
        },
    };
    let auth_type = match input.auth_type.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => AuthType::parse(raw).or_else(|| {
            push(&mut errors, "auth_type", "Choose API Key, Basic Authentication or OAuth2.");
            None
        }),
        _ => {
            push(&mut errors, "auth_type", "Choose an authentication type.");
            None
        }
    };
    let mut secret = SecretChange::Keep;
    let config = match auth_type {
        Some(AuthType::ApiKey) => api_key(&mut errors, input.api_key.as_ref()).map(ServiceConfig::ApiKey),
        Some(AuthType::Basic) => Some(ServiceConfig::Basic),
        Some(AuthType::OAuth2) => {
            let empty = OAuthInput::default();
            let raw = input.oauth2.as_ref().unwrap_or(&empty);
            if raw.client_secret.as_deref().is_some_and(|raw| raw.chars().count() > 4096) {
                push(&mut errors, "oauth2.client_secret", "Use at most 4096 characters.");
            }
            if let Some(s) = opt(&raw.client_secret) {
                secret = SecretChange::Set(Secret::new(s));
            }
            let config = super::service_oauth::oauth(&mut errors, raw, &urls);
            let has_secret = secret_later
                || matches!(secret, SecretChange::Set(_))
                || existing.is_some_and(|e| e.secret_set && e.config.auth_type() == AuthType::OAuth2);
            if config.as_ref().is_some_and(|c| c.grant_type == GrantType::ClientCredentials) && !has_secret {
                push(
                    &mut errors,
                    "oauth2.client_secret",
                    "Enter the client secret: the Client Credentials grant needs one.",
                );
            }
            config.map(ServiceConfig::OAuth2)
        }
        None => None,
    };
    if auth_type.is_some_and(|t| t != AuthType::OAuth2) {
        secret = SecretChange::Clear;
    }
    if let (Some(existing), Some(config)) = (existing, &config)
        && existing.connection_count > 0
    {
        guard_in_use(&mut errors, existing, config);
    }
    if let Some(existing) = existing.filter(|e| e.connection_count > 0) {
        variables_in_use(&mut errors, existing, &connection_variables);
    }
    match (name, link_name, config) {
        (Some(name), Some(link_name), Some(config)) if errors.is_empty() => Ok(ValidService {
            name,
            link_name,
            description,
            api_base_url,
            config,
            connection_variables,
            client_secret: secret,
            test_request,
        }),
        _ => Err(errors),
    }
}

/// "GET /me": an HTTP method and a path under the API base URL.
fn test_request(raw: &str) -> Result<String, String> {
    let (method, path) = raw.split_once(' ').ok_or("Write the method and the path, e.g. GET /me.")?;
    let method = method.trim().to_ascii_uppercase();
    let path = path.trim();
    if !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&method.as_str()) {
        return Err("Start with an HTTP method such as GET.".into());
    }
    if !path.starts_with('/') || path.len() > 500 || path.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("The path starts with / and has no spaces (e.g. /me), at most 500 characters.".into());
    }
    Ok(format!("{method} {path}"))
}
