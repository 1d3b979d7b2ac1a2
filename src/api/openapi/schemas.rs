//! The component schemas of the OpenAPI document: errors and what the API answers about services
//! (`Service`, …), one function per area. They mirror `api::services::ServiceJson`; what it accepts
//! is in `service_inputs`.

use serde_json::{Map, Value, json};

use super::schema;

/// The component schemas of the general and services areas.
pub fn all() -> Map<String, Value> {
    let mut all = Map::new();
    for area in [error_schemas(), meta_schemas(), service_schemas(), super::service_inputs::schemas()] {
        all.extend(area);
    }
    all
}

/// A `json!` object as a map.
pub fn object(items: Value) -> Map<String, Value> {
    match items {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `null` or the referenced schema (OpenAPI 3.0 ignores siblings of `$ref`, hence the `allOf`).
fn nullable_ref(name: &str) -> Value {
    json!({ "allOf": [schema(name)], "nullable": true })
}

fn nullable_string(format: Option<&str>) -> Value {
    let mut s = json!({ "type": "string", "nullable": true });
    if let Some(f) = format {
        s["format"] = json!(f);
    }
    s
}

/// A link name: snake_case, at most 50 characters.
pub fn link_name() -> Value {
    json!({
        "type": "string",
        "maxLength": 50,
        "pattern": "^[a-z][a-z0-9]*(_[a-z0-9]+)*$",
        "example": "zoho_desk",
    })
}

fn error_schemas() -> Map<String, Value> {
    object(json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "Machine-readable: not_found, unauthorized, token_expired, \
                                            forbidden, \
                                            bad_request, invalid, conflict, confirmation_required, \
                                            not_connected, upstream, upstream_timeout, too_large, timeout, \
                                            unavailable, \
                                            method_not_allowed, internal (or error).",
                            "example": "not_found",
                        },
                        "message": {
                            "type": "string",
                            "description": "For people; never holds a secret or a cause chain.",
                        },
                        "status": {
                            "allOf": [schema("ConnectionStatus")],
                            "description":
                                "With `not_connected`: the connection's status, for scripts to branch on.",
                        },
                        "connections": {
                            "type": "array",
                            "description":
                                "With `confirmation_required`: the connections the change would set aside.",
                            "items": {
                                "type": "object",
                                "required": ["link_name", "name", "owner"],
                                "properties": {
                                    "link_name": { "type": "string" },
                                    "name": { "type": "string" },
                                    "owner": { "type": "string" },
                                },
                            },
                        },
                    },
                },
            },
        },
        "ValidationError": {
            "allOf": [
                schema("Error"),
                {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {
                        "errors": {
                            "type": "object",
                            "description": "Messages per field, keyed like the input (`oauth2.client_id`, \
                                            `api_key.params.0.name`; `body` when the JSON does not parse).",
                            "additionalProperties": { "type": "array", "items": { "type": "string" } },
                            "example": { "link_name": ["This link name is already taken; choose another."] },
                        },
                    },
                },
            ],
        },
    }))
}

fn meta_schemas() -> Map<String, Value> {
    object(json!({
        "Me": {
            "type": "object",
            "required": ["username", "role"],
            "properties": {
                "username": { "type": "string" },
                "role": { "type": "string", "enum": ["sdadmin"] },
            },
        },
    }))
}

/// What the API answers about services (`api::services::ServiceJson`).
fn service_schemas() -> Map<String, Value> {
    object(json!({
        "AuthType": { "type": "string", "enum": ["api_key", "basic", "oauth2"] },
        "ParamType": { "type": "string", "enum": ["query", "form", "header"] },
        "GrantType": { "type": "string", "enum": ["authorization_code", "client_credentials"] },
        "ClientAuth": {
            "type": "string", "enum": ["basic", "body"],
            "description": "Client authentication at the token endpoint: HTTP Basic header or request body.",
        },
        "ApiKeyParam": {
            "type": "object",
            "required": ["name", "display_name"],
            "properties": {
                "name": {
                    "type": "string",
                    "description": "The parameter sent (a header token for headers).",
                },
                "display_name": {
                    "type": "string",
                    "maxLength": 100,
                    "description": "The label shown when connecting.",
                },
                "value_prefix": {
                    "type": "string",
                    "maxLength": 50,
                    "description": "Sent before the key, as typed; absent for none.",
                },
            },
        },
        "ApiKeyConfig": {
            "type": "object",
            "required": ["param_type", "params"],
            "properties": {
                "param_type": schema("ParamType"),
                "params": { "type": "array", "items": schema("ApiKeyParam") },
            },
        },
        "Scope": {
            "type": "object",
            "required": ["scope", "display_name"],
            "properties": {
                "scope": { "type": "string", "maxLength": 200 },
                "display_name": {
                    "type": "string",
                    "maxLength": 100,
                    "description": "Blank on input: the scope itself.",
                },
            },
        },
        "TokenPlacement": {
            "type": "object",
            "description":
                "Where the access token goes: `<name>: <prefix> <token>` in a header, or `?<name>=<token>`.",
            "required": ["in", "name"],
            "properties": {
                "in": { "type": "string", "enum": ["header", "query"] },
                "name": { "type": "string", "example": "Authorization" },
                "prefix": { "type": "string", "description": "Header placement only.", "example": "Bearer" },
            },
        },
        "OAuth2": {
            "type": "object",
            "required": [
                "grant_type", "client_id", "client_secret_set", "client_secret_pending", "authorization_url",
                "token_url",
                "refresh_url", "revoke_url", "issuer", "client_auth", "scope_delimiter", "token_placement",
                "extra_auth_params", "scopes", "refresh_on_status", "token_request_format", "pkce",
                "scope_on_refresh", "token_response", "dead_grant_errors", "client_refused_errors",
                "expired_when", "keep_alive_days", "captured_values",
            ],
            "properties": {
                "grant_type": schema("GrantType"),
                "client_id": { "type": "string" },
                "client_secret_set": {
                    "type": "boolean",
                    "description": "Whether a client secret is stored (never the secret).",
                },
                "client_secret_pending": {
                    "type": "boolean",
                    "description": "Imported from a services file without the client secret it needs: \
                                    send it with a PATCH (`oauth2.client_secret`).",
                },
                "authorization_url": nullable_string(Some("uri-template")),
                "token_url": { "type": "string", "format": "uri-template" },
                "refresh_url": {
                    "type": "string",
                    "format": "uri-template",
                    "nullable": true,
                    "description": "`null`: refresh at the token URL.",
                },
                "revoke_url": nullable_string(Some("uri-template")),
                "issuer": {
                    "type": "string",
                    "nullable": true,
                    "description": "When set, the callback must carry a matching `iss`.",
                },
                "client_auth": schema("ClientAuth"),
                "scope_delimiter": { "type": "string", "enum": [" ", ",", "+"] },
                "token_placement": schema("TokenPlacement"),
                "extra_auth_params": { "type": "object", "additionalProperties": { "type": "string" },
                                       "example": { "access_type": "offline" } },
                "scopes": { "type": "array", "items": schema("Scope") },
                "refresh_on_status": {
                    "type": "array", "items": { "type": "integer" },
                    "description":
                        "Upstream statuses besides 401 that mean \"token refused\": refresh once and retry \
                         once.",
                },
                "token_request_format": {
                    "type": "string", "enum": ["form", "json"],
                    "description": "How token requests carry their parameters: a form, or a JSON object.",
                },
                "pkce": {
                    "type": "boolean",
                    "description": "Whether a PKCE challenge and verifier are sent.",
                },
                "scope_on_refresh": {
                    "type": "boolean",
                    "description": "Whether refresh requests carry the requested scopes too.",
                },
                "token_response": schema("TokenResponseMapping"),
                "dead_grant_errors": {
                    "type": "array", "items": { "type": "string" },
                    "description": "Error codes meaning \"reconnect\", besides the built-in ones.",
                },
                "client_refused_errors": {
                    "type": "array", "items": { "type": "string" },
                    "description": "Error codes meaning \"client refused\", besides the built-in ones.",
                },
                "expired_when": nullable_ref("BodyMatch"),
                "keep_alive_days": {
                    "type": "integer", "nullable": true,
                    "description": "Tokens are refreshed at least this often (days), even when unused.",
                },
                "captured_values": { "type": "array", "items": schema("CapturedValue") },
            },
        },
        "CapturedValue": {
            "type": "object",
            "description": "A value the provider returns at connect time, kept per connection.",
            "required": ["name", "display_name", "source", "key", "kind", "allowed"],
            "properties": {
                "name": { "type": "string", "example": "api_domain" },
                "display_name": { "type": "string" },
                "source": { "type": "string", "enum": ["callback", "token_response"] },
                "key": { "type": "string", "example": "api_domain" },
                "kind": { "type": "string", "enum": ["label", "origin"] },
                "allowed": { "type": "array", "items": { "type": "string" } },
            },
        },
        "TokenResponseMapping": {
            "type": "object",
            "description": "Dot paths where a token response puts each field; a field missing at its path \
                            is read under its standard name at the top level.",
            "required": [
                "access_token", "refresh_token", "expires_in", "refresh_token_expires_in", "scope",
                "expires_in_unit",
            ],
            "properties": {
                "access_token": { "type": "string", "example": "authed_user.access_token" },
                "refresh_token": { "type": "string" },
                "expires_in": { "type": "string" },
                "refresh_token_expires_in": { "type": "string" },
                "scope": { "type": "string" },
                "expires_in_unit": { "type": "string", "enum": ["seconds", "milliseconds"] },
            },
        },
        "BodyMatch": {
            "type": "object",
            "description": "An API answer whose JSON has `equals` at `path` means the token expired.",
            "required": ["path", "equals"],
            "properties": {
                "path": { "type": "string", "example": "error" },
                "equals": { "type": "string", "example": "token_expired" },
            },
        },
        "Service": {
            "type": "object",
            "description":
                "A custom service. `api_key` is set for API Key services, `oauth2` for OAuth2 ones.",
            "required": [
                "link_name", "name", "description", "auth_type", "api_base_url", "api_key", "oauth2",
                "callback_url", "connection_count", "created_at", "updated_at", "created_by", "updated_by",
                "test_request", "template", "connection_variables",
            ],
            "properties": {
                "link_name": link_name(),
                "name": { "type": "string", "maxLength": 100 },
                "description": { "type": "string" },
                "auth_type": schema("AuthType"),
                "api_base_url": nullable_string(Some("uri-template")),
                "api_key": nullable_ref("ApiKeyConfig"),
                "connection_variables": { "type": "array", "items": schema("ConnectionVariable") },
                "oauth2": nullable_ref("OAuth2"),
                "callback_url": {
                    "type": "string",
                    "format": "uri",
                    "description": "`{alias URL}/integration/oauth/callback`.",
                },
                "connection_count": { "type": "integer", "format": "int64" },
                "created_at": { "type": "string", "format": "date-time" },
                "updated_at": { "type": "string", "format": "date-time" },
                "created_by": { "type": "string" },
                "updated_by": { "type": "string" },
                "test_request": {
                    "type": "string", "nullable": true, "example": "GET /me",
                    "description":
                        "What Test sends to check a connection: a method and a path under the API base URL.",
                },
                "template": {
                    "type": "object", "nullable": true,
                    "description": "The catalogue template it was created from.",
                    "required": ["id", "version"],
                    "properties": {
                        "id": { "type": "string" },
                        "version": { "type": "integer", "format": "int32" },
                    },
                },
            },
        },
        "ServiceList": {
            "type": "object",
            "required": ["services", "total", "page", "per_page"],
            "properties": {
                "services": { "type": "array", "items": schema("Service") },
                "total": {
                    "type": "integer",
                    "format": "int64",
                    "description": "How many services match, on all pages.",
                },
                "page": { "type": "integer", "format": "int64" },
                "per_page": { "type": "integer", "format": "int64" },
            },
        },
    }))
}
