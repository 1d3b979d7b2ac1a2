//! What the API accepts for services (`domain::service_input::ServiceInput` and the API's own rules
//! in `domain::service_rules`): `ServiceInput` creates a service, `ServiceChanges` changes one (every
//! field optional, absent or `null` keeping the stored value). Rules across fields (a section for
//! its authentication type, a test request needing the API base URL, …) are in the descriptions and
//! answered with 422.

use serde_json::{Map, Value, json};

use super::schema;
use super::schemas::object;
use super::text::{self, optional};

/// The properties of a service's input, `link_name` included.
fn service_properties() -> Map<String, Value> {
    let url = |description: &str| {
        optional(json!({
            "type": "string", "maxLength": 2048, "example": "https://api.example.com/v1",
            "description": format!(
                "{description} An absolute https URL (http only when the portal allows it); blank clears it. \
                 It may name the service's connection variables as {{name}}: anywhere in the path or \
                 query, and in the host only as whole labels left of a fixed domain with a dot \
                 (https://{{subdomain}}.zendesk.com)."
            ),
        }))
    };
    object(json!({
        "name": text::display_name(100, "Shown in lists; stored trimmed."),
        "link_name": text::link_name(),
        "description": optional(text::paragraph(1000, "Free text; tabs and line breaks allowed.")),
        "auth_type": schema("AuthType"),
        "api_base_url": url("Where the service's API lives."),
        "api_key": optional(schema("ApiKeyInput")),
        "oauth2": optional(schema("OAuth2Input")),
        "test_request": optional(json!({
            "type": "string", "maxLength": 510, "example": "GET /me",
            "description": "A method and a path under the API base URL (which it needs); blank clears it.",
        })),
        "connection_variables": optional(json!({
            "type": "array", "maxItems": 5, "items": schema("ConnectionVariable"),
            "description": "Values each connection gives when it is created (a Zendesk subdomain), \
                            named {name} in the URLs. They cannot change while connections use the service.",
        })),
    }))
}

/// `ServiceInput`, `ServiceChanges` and their parts.
pub fn schemas() -> Map<String, Value> {
    let mut create = service_properties();
    create.insert(
        "template".to_owned(),
        optional(json!({
            "type": "string", "maxLength": 100, "example": "github_oauth_app",
            "description": "The id of the catalogue template the service starts from (GET /api/v1/templates); \
                            recorded with the template's version. A blank value means none.",
        })),
    );
    let mut changes = service_properties();
    changes.remove("link_name");
    for field in ["name", "auth_type"] {
        changes[field] = optional(changes[field].clone());
    }
    let mut all = object(json!({
        "ConnectionVariable": {
            "type": "object",
            "required": ["name", "display_name"],
            "properties": {
                "name": {
                    "type": "string", "maxLength": 30, "example": "subdomain",
                    "description": "snake_case; written {name} in the service's URLs.",
                },
                "display_name": text::display_name(100, "The label shown when a connection is created."),
            },
        },
        "ServiceInput": {
            "type": "object",
            "description": "`api_key` is for API Key services only, `oauth2` for OAuth2 ones.",
            "required": ["name", "link_name", "auth_type"],
            "properties": create,
        },
        "ServiceChanges": {
            "type": "object",
            "description": "Fields left out (or `null`) keep their stored values. `api_key` is for API Key \
                            services only, `oauth2` for OAuth2 ones (by the `auth_type` sent, or the stored \
                            one). A `link_name` equal to the service's own is accepted; the link name cannot \
                            change.",
            "properties": changes,
        },
        "ApiKeyInput": {
            "type": "object",
            "properties": {
                "param_type": optional(json!({ "allOf": [schema("ParamType")], "default": "header" })),
                "params": optional(json!({
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": schema("ApiKeyParamInput"),
                })),
            },
        },
        "ApiKeyParamInput": {
            "type": "object",
            "required": ["name", "display_name"],
            "description":
                "Names are unique (ignoring case); a header parameter's name is an HTTP header name.",
            "properties": {
                "name": text::word(Some(100), false, "The parameter sent."),
                "display_name": text::display_name(100, "The label shown when connecting."),
                "value_prefix": text::value_prefix(),
            },
        },
        "OAuth2Input": oauth2_input(),
        "ScopeInput": {
            "type": "object",
            "required": ["scope", "display_name"],
            "properties": {
                "scope": text::word(Some(200), false, "Without the scope delimiter; each scope once."),
                "display_name": text::blank_or_plain(100, "Blank: the scope itself."),
            },
        },
        "TokenPlacementInput": {
            "type": "object",
            "properties": {
                "in": optional(json!({ "type": "string", "enum": ["header", "query"], "default": "header" })),
                "name": optional(text::word(
                    None,
                    true,
                    "A header name (header) or a parameter name (query), at most 100 characters; blank: \
                     `Authorization` or `access_token`.",
                )),
                "prefix": optional(text::short_word(50, "Header placement only; default `Bearer`.")),
            },
        },
    }));
    all.extend(provider_inputs());
    all
}

fn oauth2_input() -> Value {
    let url = |description: &str| {
        optional(json!({
            "type": "string", "maxLength": 2048, "example": "https://accounts.example.com/oauth/token",
            "description":
                format!("{description} An absolute https URL (http only when the portal allows it)."),
        }))
    };
    json!({
        "type": "object",
        "description": "Required for OAuth2 services: `client_id` and `token_url`, `authorization_url` for \
                        the Authorization Code grant, a client secret for Client Credentials.",
        "properties": {
            "grant_type": optional(json!({
                "allOf": [schema("GrantType")],
                "default": "authorization_code",
            })),
            "client_id": optional(text::plain(500, "Required.")),
            "client_secret": optional(json!({
                "type": "string", "maxLength": 4096, "writeOnly": true,
                "description":
                    "Write-only: blank or absent keeps the stored secret. Required for Client Credentials.",
            })),
            "authorization_url": url("Required for the Authorization Code grant."),
            "token_url": url("The access token URL (required)."),
            "refresh_url": url("Blank: refresh at the token URL."),
            "revoke_url": url("RFC 7009 revocation endpoint (optional)."),
            "issuer": optional(json!({ "type": "string", "maxLength": 2048,
                                       "description": "RFC 9207 issuer identifier, a URL (optional)." })),
            "client_auth": optional(json!({ "allOf": [schema("ClientAuth")], "default": "basic" })),
            "scope_delimiter": optional(json!({
                "type": "string",
                "enum": [" ", ",", "+", "space", "comma", "plus"],
                "default": " ",
            })),
            "token_placement": optional(schema("TokenPlacementInput")),
            "extra_auth_params": optional(json!({
                "type": "object", "maxProperties": 50, "additionalProperties": text::plain(500, "The value."),
                "description": "Extra authorization-request parameters (names without whitespace, at most \
                                100 characters); the ones Connections sets itself are refused.",
            })),
            "scopes": optional(json!({ "type": "array", "maxItems": 50, "items": schema("ScopeInput") })),
            "refresh_on_status": optional(json!({
                "type": "array", "maxItems": 5,
                "items": { "type": "integer", "minimum": 400, "maximum": 599 },
                "description": "Upstream statuses besides 401 that mean \"token refused\" (e.g. 403).",
            })),
            "token_request_format": optional(json!({
                "type": "string", "enum": ["form", "json"], "default": "form",
                "description": "How token requests carry their parameters (`json`: Notion).",
            })),
            "pkce": optional(json!({ "type": "boolean", "default": true,
                                     "description": "Off for providers that refuse PKCE." })),
            "scope_on_refresh": optional(json!({ "type": "boolean", "default": false })),
            "token_response": optional(schema("TokenResponseMappingInput")),
            "dead_grant_errors": optional(error_codes("Error codes meaning \"reconnect\"")),
            "client_refused_errors": optional(error_codes("Error codes meaning \"client refused\"")),
            "expired_when": optional(schema("BodyMatchInput")),
            "keep_alive_days": optional(json!({
                "type": "integer", "minimum": 0, "maximum": 365,
                "description": "Refresh tokens at least this often (days), even when unused; 0: never.",
            })),
            "captured_values": optional(json!({
                "type": "array", "maxItems": 8, "items": schema("CapturedValueInput"),
                "description": "Values the provider returns at connect time, kept per connection and named \
                                {name} in the URLs: a callback value from the access token URL on, a token \
                                response value in the refresh and revoke URLs and the API base URL. An \
                                origin value starts its URL ({api_domain}/crm/v6). Names differ from the \
                                connection variables' and from each other.",
            })),
        },
    })
}

/// A dot path into a JSON answer, or blank for the default.
fn path(description: &str) -> Value {
    let ws = text::WS;
    json!({
        "type": "string", "maxLength": 100, "nullable": true,
        "pattern": format!(r"^[{ws}]*(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){{0,4}})?[{ws}]*$"),
        "description": description,
    })
}

fn error_codes(what: &str) -> Value {
    let ws = text::WS;
    json!({
        "type": "array", "maxItems": 20,
        "items": { "type": "string", "maxLength": 100, "pattern": format!(r"^[{ws}]*[A-Za-z0-9_.:-]+[{ws}]*$") },
        "description": format!("{what}, besides the built-in ones; each once, ignoring case."),
    })
}

/// The provider-difference inputs with shapes of their own.
fn provider_inputs() -> Map<String, Value> {
    let standard = |name: &str| path(&format!("Blank: `{name}` at the top level."));
    object(json!({
        "TokenResponseMappingInput": {
            "type": "object",
            "description": "Where a token response puts each field, as dot paths (e.g. \
                            `authed_user.access_token`). Sent, it replaces the stored mapping.",
            "properties": {
                "access_token": standard("access_token"),
                "refresh_token": standard("refresh_token"),
                "expires_in": standard("expires_in"),
                "refresh_token_expires_in": standard("refresh_token_expires_in"),
                "scope": standard("scope"),
                "expires_in_unit": optional(json!({
                    "type": "string", "enum": ["seconds", "milliseconds"], "default": "seconds",
                })),
            },
        },
        "CapturedValueInput": {
            "type": "object",
            "required": ["name", "display_name", "source", "key", "kind"],
            "properties": {
                "name": {
                    "type": "string", "maxLength": 30, "example": "realm_id",
                    "description": "snake_case; written {name} in the service's URLs.",
                },
                "display_name": text::display_name(100, "The label shown with the value."),
                "source": {
                    "type": "string", "enum": ["callback", "token_response"],
                    "description": "The callback's query, or the token response.",
                },
                "key": {
                    "type": "string", "maxLength": 100, "example": "realmId",
                    "description": "The query parameter, or a dot path into the token response (`team.id`). \
                                    Never OAuth's own parameters, nor a token, code or secret.",
                },
                "kind": {
                    "type": "string", "enum": ["label", "origin"],
                    "description": "`label`: one DNS label. `origin`: one of `allowed`.",
                },
                "allowed": optional(json!({
                    "type": "array", "maxItems": 30,
                    "items": { "type": "string", "maxLength": 300 },
                    "example": ["https://accounts.zoho.eu", "https://*.my.salesforce.com", "eu => https://desk.zoho.eu"],
                    "description": "An origin's allow-list (required for an origin, empty for a label): \
                                    origins, origins whose first label is `*` (any one DNS label), or \
                                    `value => origin` pairs (the provider sends the value, the connection \
                                    keeps the origin).",
                })),
            },
        },
        "BodyMatchInput": {
            "type": "object",
            "description": "An API answer whose JSON has `equals` at `path` means the token expired. A \
                            blank `path` removes the match; a path needs a value.",
            "properties": {
                "path": path("Where to look, e.g. `error`; blank: no match."),
                "equals": optional(text::plain(
                    200,
                    "The value meaning \"token expired\", e.g. `token_expired`.",
                )),
            },
        },
    }))
}
