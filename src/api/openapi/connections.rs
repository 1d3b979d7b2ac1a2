//! The connections area of the OpenAPI document: `/api/v1/connections…` and its schemas. They mirror
//! `api::connections` (`ConnectionJson`), `domain::connection` (`ConnectionInput`, `CredentialInput`)
//! and `ops::invoke` (`InvokeRequest`, `InvokeAnswer`, `TestResult`).

use serde_json::{Map, Value, json};

use super::schemas::{link_name, object};
use super::text::{self, optional};
use super::{ok, param_ref, paths as path_map, schema, with_errors};

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

/// `/api/v1/connections…`.
pub fn paths() -> Map<String, Value> {
    let one =
        |id: &str, summary: &str| json!({ "tags": ["connections"], "operationId": id, "summary": summary });
    let mut list = one("list_connections", "List connections: mine by default, or everyone's");
    list["parameters"] = json!([
        { "name": "search", "in": "query",
          "schema": text::plain(200, "Case-insensitive substring of the display name or the link name.") },
        { "name": "service", "in": "query", "description": "A service's link name.", "schema": link_name() },
        { "name": "status", "in": "query",
          "description": "A status, or `attention`: the connections that need attention (Needs reconnect, \
              three failed refreshes in a row, or connected to a service whose client credentials the \
              provider refused).",
          "schema": { "type": "string",
                      "enum": ["not_connected", "connected", "disconnected", "needs_reconnect", "attention"] } },
        { "name": "auth_type", "in": "query", "schema": schema("AuthType") },
        { "name": "owner", "in": "query", "description": "`me` (My Connections) or `any` (All Connections).",
          "schema": { "type": "string", "enum": ["me", "any"], "default": "me" } },
        { "name": "sort", "in": "query",
          "schema": {
              "type": "string", "enum": ["name", "-name", "updated", "-updated"], "default": "name",
          } },
        param_ref("Page"),
        param_ref("PerPage"),
    ]);
    list["responses"] = with_errors(
        json!({ "200": ok("One page of connections.", schema("ConnectionList")) }),
        &["400", "422"],
    );

    let mut create =
        one("create_connection", "Create a connection (Not connected) owned by the token's user");
    create["requestBody"] = body(schema("ConnectionInput"));
    create["responses"] = with_errors(
        json!({ "201": {
            "description": "Created.",
            "headers": {
                "Location": { "description": "The new connection's URL.", "schema": { "type": "string" } },
            },
            "content": { "application/json": { "schema": schema("Connection") } },
        } }),
        &["413", "422"],
    );

    let mut show = one("show_connection", "One connection (never its credentials)");
    show["responses"] = with_errors(json!({ "200": ok("The connection.", schema("Connection")) }), &["404"]);

    let mut update = one("update_connection", "Rename a connection or change its scopes (owner only)");
    update["description"] =
        json!("The link name and the service cannot change. Changed scopes take effect at the next connect.");
    update["requestBody"] = body(schema("ConnectionChanges"));
    update["responses"] = with_errors(
        json!({ "200": ok("The changed connection.", schema("Connection")) }),
        &["404", "413", "422"],
    );

    let mut delete =
        one("delete_connection", "Revoke at the provider when it can, then delete (owner or any SDAdmin)");
    delete["responses"] =
        with_errors(json!({ "200": ok("Deleted.", schema("ConnectionDeleted")) }), &["404"]);

    let mut credentials =
        one("put_credentials", "Store API key values or a username and password: Connected (owner only)");
    credentials["requestBody"] = body(schema("CredentialInput"));
    credentials["responses"] = with_errors(
        json!({ "200": ok("The connected connection.", schema("Connection")) }),
        &["400", "404", "413", "422"],
    );

    let mut authorize = one(
        "authorize_connection",
        "Start the OAuth2 consent (Authorization Code) or fetch a token (Client Credentials)",
    );
    authorize["description"] = json!(
        "Authorization Code: answers the provider's consent URL; the flow belongs to the token's user and \
         completes when that URL is opened in their signed-in browser. Client Credentials: the token request \
         is made at once and the connection is answered. Owner only. A connection of an API Key or Basic \
         service is a 409."
    );
    authorize["responses"] = with_errors(
        json!({ "200": ok(
            "The consent URL, or the connected connection.",
            json!({ "oneOf": [schema("Authorization"), schema("Connection")] }),
        ) }),
        &["400", "404", "409", "502"],
    );

    let mut revoke =
        one("revoke_connection", "Revoke at the provider and delete the stored credentials: Disconnected");
    revoke["responses"] = with_errors(
        json!({ "200": ok("The connection, with `revoke_outcome`.", schema("Connection")) }),
        &["404"],
    );

    let mut invoke =
        one("invoke_connection", "Send a request through the connection, its credentials injected");
    invoke["description"] = json!(
        "The request goes to the service's API base URL (`path`) or an absolute `url` inside it; credentials \
         are never revealed, and any echo of them in the answer is masked."
    );
    invoke["requestBody"] = body(schema("InvokeRequest"));
    invoke["responses"] = with_errors(
        json!({ "200": ok("The upstream answer.", schema("InvokeAnswer")) }),
        &["404", "409", "413", "422", "502"],
    );

    let mut test = one(
        "test_connection",
        "Check the connection: the service's test request, or a token/credentials check",
    );
    test["responses"] =
        with_errors(json!({ "200": ok("What the test found.", schema("TestResult")) }), &["404", "409"]);

    let item = |ops: Value| {
        let mut item = json!({ "parameters": [param_ref("ConnectionLinkName")] });
        item.as_object_mut().expect("object").extend(object(ops));
        item
    };
    path_map([
        ("/api/v1/connections", json!({ "get": list, "post": create })),
        ("/api/v1/connections/{link_name}", item(json!({ "get": show, "patch": update, "delete": delete }))),
        ("/api/v1/connections/{link_name}/credentials", item(json!({ "put": credentials }))),
        ("/api/v1/connections/{link_name}/authorize", item(json!({ "post": authorize }))),
        ("/api/v1/connections/{link_name}/revoke", item(json!({ "post": revoke }))),
        ("/api/v1/connections/{link_name}/invoke", item(json!({ "post": invoke }))),
        ("/api/v1/connections/{link_name}/test", item(json!({ "post": test }))),
    ])
}

/// The connection's path parameter.
pub fn parameters() -> Map<String, Value> {
    object(json!({
        "ConnectionLinkName": {
            "name": "link_name", "in": "path", "required": true,
            "description": "The connection's link name.",
            "schema": link_name(),
        },
    }))
}

/// What the connections API answers and accepts.
pub fn schemas() -> Map<String, Value> {
    let time = |description: &str| {
        json!({
            "type": "string", "format": "date-time", "nullable": true,
            "description": description,
        })
    };
    let nullable =
        |description: &str| json!({ "type": "string", "nullable": true, "description": description });
    let scopes = optional(json!({
        "type": "array", "items": { "type": "string" },
        "description": "OAuth2: a subset of the service's scopes, at least one when it defines any (blank \
                        ones are skipped).",
    }));
    object(json!({
        "ConnectionStatus": {
            "type": "string",
            "enum": ["not_connected", "connected", "disconnected", "needs_reconnect"],
        },
        "Connection": {
            "type": "object",
            "required": [
                "link_name", "name", "service", "auth_type", "owner", "status", "status_message",
                "scopes_requested", "scopes_granted", "variables", "captured", "connected_at", "expires_at",
                "refresh_token_expires_at", "reconnect_soon", "last_error",
                "revoke_outcome", "created_at", "updated_at",
            ],
            "properties": {
                "link_name": link_name(),
                "name": { "type": "string", "maxLength": 100 },
                "service": { "type": "string", "description": "The service's link name." },
                "auth_type": schema("AuthType"),
                "owner": { "type": "string", "description": "The username of the SDAdmin who created it." },
                "status": schema("ConnectionStatus"),
                "status_message": nullable("Why the status is what it is (e.g. the provider's refusal)."),
                "scopes_requested": { "type": "array", "items": { "type": "string" } },
                "scopes_granted": { "type": "array", "items": { "type": "string" }, "nullable": true },
                "variables": {
                    "type": "object", "additionalProperties": { "type": "string" },
                    "description": "Its values for the service's connection variables (not secrets).",
                },
                "captured": {
                    "type": "object", "additionalProperties": { "type": "string" },
                    "example": { "realm_id": "9130350", "api_domain": "https://www.zohoapis.eu" },
                    "description": "What the provider returned when it was connected, by the names of its \
                                    service's captured values (not secrets): a DNS label, or an origin \
                                    from the service's allow-list.",
                },
                "connected_at": time("When it was last connected."),
                "expires_at": time("When the access token expires (never the token)."),
                "refresh_token_expires_at": time(
                    "When the refresh token expires, as the provider said (`refresh_token_expires_in`).",
                ),
                "reconnect_soon": {
                    "type": "boolean",
                    "description": "The refresh token expires within 7 days: refreshes cannot extend it, the \
                                    owner should reconnect.",
                },
                "last_error": nullable("The last error, readable by people."),
                "revoke_outcome": nullable("What the last revoke did at the provider."),
                "created_at": { "type": "string", "format": "date-time" },
                "updated_at": { "type": "string", "format": "date-time" },
            },
        },
        "ConnectionList": {
            "type": "object",
            "required": ["connections", "total", "total_at_least", "page", "per_page"],
            "properties": {
                "connections": { "type": "array", "items": schema("Connection") },
                "total": {
                    "type": "integer",
                    "format": "int64",
                    "description": "How many match; exact unless total_at_least.",
                },
                "total_at_least": {
                    "type": "boolean",
                    "description": "With filters, counting stops at 1000: true means more than total match.",
                },
                "page": { "type": "integer", "format": "int64" },
                "per_page": { "type": "integer", "format": "int64" },
            },
        },
        "ConnectionInput": {
            "type": "object",
            "required": ["service", "name", "link_name"],
            "properties": {
                "service": text::link_name(),
                "name": text::display_name(100, "Shown in lists; stored trimmed."),
                "link_name": text::link_name(),
                "scopes": scopes.clone(),
                "variables": optional(json!({
                    "type": "object",
                    "additionalProperties": { "type": "string", "maxLength": 63 },
                    "example": { "subdomain": "acme" },
                    "description": "A value for each of the service's connection variables: one DNS label \
                                    (letters, digits and hyphens, 1–63 characters; stored lower-cased). \
                                    Fixed once the connection is created.",
                })),
            },
        },
        "ConnectionChanges": {
            "type": "object",
            "description": "Fields left out (or `null`) keep their stored values. A `link_name` or \
                            `service` equal to the connection's own is accepted; neither can change.",
            "properties": {
                "name": optional(text::display_name(100, "Shown in lists; stored trimmed.")),
                "scopes": scopes,
                "variables": optional(json!({
                    "type": "object",
                    "additionalProperties": { "type": "string", "maxLength": 63 },
                    "description": "Accepted only when equal to the stored values: they are fixed when the \
                                    connection is created (422 otherwise).",
                })),
            },
        },
        "ConnectionDeleted": {
            "type": "object",
            "required": ["deleted", "revoke_outcome"],
            "properties": {
                "deleted": { "type": "string", "description": "The deleted connection's link name." },
                "revoke_outcome": { "type": "string" },
            },
        },
        "CredentialInput": {
            "type": "object",
            "description": "API Key: `params`, one value per parameter of the service. Basic: `username` \
                            and `password`. Write-only: never answered back.",
            "properties": {
                "params": optional(json!({
                    "type": "object", "writeOnly": true, "example": { "X-Api-Key": "…" },
                    "additionalProperties": text::line(4096, "", "One line once trimmed."),
                    "description": "API Key: a value for each of the service's parameters, and no other.",
                })),
                "username": optional(text::line(4096, ":", "Basic: one line once trimmed, without `:`.")),
                "password": optional({
                    let mut password = text::plain_line(4096, "Basic: one line, kept as sent.");
                    password["writeOnly"] = json!(true);
                    password
                }),
            },
        },
        "Authorization": {
            "type": "object",
            "required": ["authorization_url", "expires_in"],
            "properties": {
                "authorization_url": {
                    "type": "string",
                    "format": "uri",
                    "description": "Open it in the token owner's signed-in browser.",
                },
                "expires_in": { "type": "integer", "description": "Seconds until the flow expires." },
            },
        },
        "InvokeRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "method": optional(json!({ "type": "string", "default": "GET" })),
                "path": optional(json!({
                    "type": "string",
                    "description": "Joined to the service's API base URL.",
                    "example": "/v1/tickets",
                })),
                "url": optional(json!({
                    "type": "string",
                    "description": "An absolute URL inside the API base URL (instead of `path`).",
                })),
                "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                "query": { "type": "object", "additionalProperties": { "type": "string" } },
                "body": { "description": "A string is sent as is; any other JSON value is sent as JSON." },
                "body_base64": {
                    "type": "boolean",
                    "default": false,
                    "description": "`body` is base64 (binary uploads).",
                },
                "timeout_ms": optional(json!({
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 60000,
                    "default": 30000,
                })),
            },
        },
        "InvokeAnswer": {
            "type": "object",
            "required": ["status", "headers", "body", "body_base64"],
            "properties": {
                "status": { "type": "integer" },
                "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                "body": {
                    "type": "string",
                    "description": "Text, or base64 when `body_base64` is true. Secrets are masked.",
                },
                "body_base64": { "type": "boolean" },
            },
        },
        "TestResult": {
            "type": "object",
            "required": ["ok", "status", "latency_ms", "message", "excerpt"],
            "properties": {
                "ok": { "type": "boolean" },
                "status": {
                    "type": "integer",
                    "nullable": true,
                    "description": "The upstream HTTP status, when a request was made.",
                },
                "latency_ms": { "type": "integer", "format": "int64" },
                "message": { "type": "string" },
                "excerpt": nullable("The start of the answer's body, secrets masked."),
            },
        },
    }))
}
