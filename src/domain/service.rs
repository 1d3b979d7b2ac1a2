//! A custom service: how to authenticate to a third-party application. The type-specific settings
//! (`ServiceConfig`) are stored as JSON and never hold a secret; the OAuth2 client secret is sealed
//! in its own column.

use serde::{Deserialize, Serialize};

use crate::domain::captures::CapturedValue;
use crate::domain::provider::{BodyMatch, RequestFormat, ResponseMapping};

/// The three authentication types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    ApiKey,
    Basic,
    #[serde(rename = "oauth2")]
    OAuth2,
}

impl AuthType {
    pub const ALL: [AuthType; 3] = [AuthType::ApiKey, AuthType::Basic, AuthType::OAuth2];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::ApiKey => "api_key",
            AuthType::Basic => "basic",
            AuthType::OAuth2 => "oauth2",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuthType::ApiKey => "API Key",
            AuthType::Basic => "Basic Authentication",
            AuthType::OAuth2 => "OAuth2",
        }
    }

    pub fn parse(raw: &str) -> Option<AuthType> {
        AuthType::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// How a stored type is read (a row's `auth_type` column): an unknown one is an error, never a guess.
impl TryFrom<String> for AuthType {
    type Error = String;

    fn try_from(raw: String) -> Result<AuthType, String> {
        AuthType::parse(&raw).ok_or_else(|| format!("unknown authentication type {raw:?}"))
    }
}

/// Where an API key parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Query,
    Form,
    Header,
}

impl ParamType {
    pub const ALL: [ParamType; 3] = [ParamType::Query, ParamType::Form, ParamType::Header];

    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Query => "query",
            ParamType::Form => "form",
            ParamType::Header => "header",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ParamType::Query => "Query string",
            ParamType::Form => "Form data",
            ParamType::Header => "Header",
        }
    }

    pub fn parse(raw: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// One API key parameter: the name sent, the label shown when connecting, and what is sent before
/// the key (Okta's `SSWS `, PagerDuty's `Token token=`), so the person connecting pastes only the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyParam {
    pub name: String,
    pub display_name: String,
    /// Sent as typed, spaces included; empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyConfig {
    pub param_type: ParamType,
    pub params: Vec<ApiKeyParam>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "Authorization Code",
            GrantType::ClientCredentials => "Client Credentials",
        }
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic header (RFC 6749 §2.3.1, the default).
    Basic,
    /// client_id and client_secret in the request body.
    Body,
}

/// Where the access token goes on an outbound request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum TokenPlacement {
    /// `<name>: <prefix> <token>`, e.g. `Authorization: Bearer …` or `Authorization: Zoho-oauthtoken …`.
    Header { name: String, prefix: String },
    /// `?<name>=<token>`.
    Query { name: String },
}

/// One OAuth2 scope and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub scope: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthConfig {
    pub grant_type: GrantType,
    pub client_id: String,
    pub authorization_url: Option<String>,
    pub token_url: String,
    /// `None`: refresh at the token URL.
    pub refresh_url: Option<String>,
    pub revoke_url: Option<String>,
    /// When set, the callback must carry a matching `iss` (RFC 9207).
    pub issuer: Option<String>,
    pub client_auth: ClientAuth,
    /// " ", "," or "+".
    pub scope_delimiter: String,
    pub token_placement: TokenPlacement,
    /// Extra authorization-request parameters, in order (e.g. access_type=offline): a JSON object.
    #[serde(with = "pairs")]
    pub extra_auth_params: Vec<(String, String)>,
    pub scopes: Vec<Scope>,
    /// Upstream statuses besides 401 that mean "token refused": refresh once and retry once.
    #[serde(default)]
    pub refresh_on_status: Vec<u16>,
    /// How token requests carry their parameters (`domain::provider` holds this and what follows).
    #[serde(default)]
    pub token_request_format: RequestFormat,
    /// Send a PKCE challenge and verifier (RFC 7636); off for providers that refuse them.
    #[serde(default = "on")]
    pub pkce: bool,
    /// Send the requested scopes with refresh requests too.
    #[serde(default)]
    pub scope_on_refresh: bool,
    /// Where a token response puts its fields.
    #[serde(default)]
    pub token_response: ResponseMapping,
    /// Error codes, besides the built-in ones, that mean the grant is dead.
    #[serde(default)]
    pub dead_grant_errors: Vec<String>,
    /// Error codes, besides the built-in ones, that mean the client credentials are refused.
    #[serde(default)]
    pub client_refused_errors: Vec<String>,
    /// An API answer whose JSON matches this means "token expired", whatever its status.
    #[serde(default)]
    pub expired_when: Option<BodyMatch>,
    /// Refresh a connection's token at least this often (days), even when nobody uses it.
    #[serde(default)]
    pub keep_alive_days: Option<u32>,
    /// Values the provider returns at connect time that each connection keeps (`domain::captures`).
    #[serde(default)]
    pub captured_values: Vec<CapturedValue>,
}

fn on() -> bool {
    true
}

#[cfg(test)]
impl OAuthConfig {
    /// An Authorization Code service that sends its tokens to `token_url`, every other setting at its
    /// default: what unit tests change one field of.
    pub fn example(token_url: &str) -> OAuthConfig {
        OAuthConfig {
            grant_type: GrantType::AuthorizationCode,
            client_id: "id".into(),
            authorization_url: Some("https://auth.example/authorize".into()),
            token_url: token_url.into(),
            refresh_url: None,
            revoke_url: None,
            issuer: None,
            client_auth: ClientAuth::Basic,
            scope_delimiter: " ".into(),
            token_placement: TokenPlacement::Header { name: "Authorization".into(), prefix: "Bearer".into() },
            extra_auth_params: vec![],
            scopes: vec![],
            refresh_on_status: vec![],
            token_request_format: Default::default(),
            pkce: true,
            scope_on_refresh: false,
            token_response: Default::default(),
            dead_grant_errors: vec![],
            client_refused_errors: vec![],
            expired_when: None,
            keep_alive_days: None,
            captured_values: vec![],
        }
    }
}

impl OAuthConfig {
    /// Where refresh requests go.
    pub fn refresh_endpoint(&self) -> &str {
        self.refresh_url.as_deref().unwrap_or(&self.token_url)
    }
}

/// Name-value pairs in their order, written as a JSON object (as the API shows them and takes them);
/// read from an object, or from the list of pairs earlier versions stored.
mod pairs {
    use serde::de::{MapAccess, SeqAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (name, value) in pairs {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(String, String)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, String)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of names and string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(pairs)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = seq.next_element()? {
                    pairs.push(pair);
                }
                Ok(pairs)
            }
        }
        deserializer.deserialize_any(Pairs)
    }
}

/// The type-specific settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per loaded service, never held in bulk: a Box would only add noise"
)]
pub enum ServiceConfig {
    ApiKey(ApiKeyConfig),
    Basic,
    #[serde(rename = "oauth2")]
    OAuth2(OAuthConfig),
}

impl ServiceConfig {
    pub fn auth_type(&self) -> AuthType {
        match self {
            ServiceConfig::ApiKey(_) => AuthType::ApiKey,
            ServiceConfig::Basic => AuthType::Basic,
            ServiceConfig::OAuth2(_) => AuthType::OAuth2,
        }
    }

    pub fn oauth(&self) -> Option<&OAuthConfig> {
        match self {
            ServiceConfig::OAuth2(o) => Some(o),
            _ => None,
        }
    }

    pub fn api_key(&self) -> Option<&ApiKeyConfig> {
        match self {
            ServiceConfig::ApiKey(k) => Some(k),
            _ => None,
        }
    }
}

/// The path every OAuth2 provider redirects back to, under the alias URL.
pub const CALLBACK_PATH: &str = "/integration/oauth/callback";

/// The callback URL for an alias URL.
pub fn callback_url(alias_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", alias_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests;
