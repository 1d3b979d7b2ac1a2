//! The tokens area of the OpenAPI document: `/api/v1/tokens…` and its schemas. They mirror
//! `api::tokens` (`TokenJson`, `CreateBody`) and the limits of `ops::tokens`.

use serde_json::{Map, Value, json};

use super::schemas::object;
use super::text::{self, optional};
use super::{ok, paths as path_map, schema, with_errors};
use crate::ops::tokens::{MAX_EXPIRY_DAYS, MAX_RESTRICTED};

/// `/api/v1/tokens…`.
pub fn paths() -> Map<String, Value> {
    let one = |id: &str, summary: &str| json!({ "tags": ["tokens"], "operationId": id, "summary": summary });
    let mut list = one("list_tokens", "List API tokens: mine by default, one user's, or everyone's");
    list["parameters"] = json!([
        { "name": "user", "in": "query",
          "description": "A username: that user's tokens (none for a name nobody has).",
          "schema": text::plain(200, "A username.") },
        { "name": "all", "in": "query",
          "description": "Everyone's tokens (`user` narrows them to one user's).",
          "schema": { "type": "boolean", "default": false } },
    ]);
    list["responses"] =
        with_errors(json!({ "200": ok("The tokens.", schema("TokenList")) }), &["400", "422"]);

    let mut create = one("create_token", "Create an API token for the caller; the answer holds it, once");
    create["description"] = json!(
        "The token is in this answer and nowhere else: only its hash is stored. A token restricted to \
         `connections` may only invoke (and test) them, and gets 403 everywhere else: that is what a \
         script should hold."
    );
    create["requestBody"] =
        json!({ "required": true, "content": { "application/json": { "schema": schema("TokenInput") } } });
    create["responses"] = with_errors(
        json!({ "201": {
            "description": "Created.",
            "headers": { "Location": {
                "description": "The new token's URL.",
                "schema": { "type": "string", "example": "/api/v1/tokens/7" },
            } },
            "content": { "application/json": { "schema": schema("CreatedToken") } },
        } }),
        &["413", "422"],
    );

    let mut show = one("show_token", "One API token (never the token itself)");
    show["responses"] = with_errors(json!({ "200": ok("The token.", schema("Token")) }), &["404"]);
    let mut revoke = one("revoke_token", "Revoke an API token (any user's); it is refused at once");
    revoke["responses"] = with_errors(json!({ "204": { "description": "Revoked." } }), &["404"]);

    let id = json!({
        "name": "id", "in": "path", "required": true, "description": "The token's id.",
        "schema": { "type": "integer", "format": "int64", "minimum": 1 },
    });
    path_map([
        ("/api/v1/tokens", json!({ "get": list, "post": create })),
        ("/api/v1/tokens/{id}", json!({ "parameters": [id], "get": show, "delete": revoke })),
    ])
}

/// What the tokens API answers and accepts.
pub fn schemas() -> Map<String, Value> {
    let time = |description: &str| {
        json!({
            "type": "string", "format": "date-time", "nullable": true,
            "description": description,
        })
    };
    let token_properties = json!({
        "id": { "type": "integer", "format": "int64" },
        "label": { "type": "string" },
        "owner": { "type": "string", "description": "The username of the token's user." },
        "prefix": { "type": "string", "description": "The token's first characters, to recognise it." },
        "restricted_to": {
            "type": "array", "items": { "type": "string" }, "nullable": true,
            "description": "The link names it may invoke; `null` for full API access.",
        },
        "created_at": { "type": "string", "format": "date-time" },
        "expires_at": time("When it stops working; `null` for never."),
        "last_used_at": time("When it was last used (recorded at most once a minute)."),
        "last_used_address": {
            "type": "string", "nullable": true, "description": "The client address of that use.",
        },
        "revoked_at": time("When it was revoked."),
        "status": { "type": "string", "enum": ["active", "expired", "revoked"] },
    });
    let required = json!([
        "id",
        "label",
        "owner",
        "prefix",
        "restricted_to",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_address",
        "revoked_at",
        "status",
    ]);
    let mut created_properties = token_properties.clone();
    created_properties["token"] =
        json!({ "type": "string", "description": "The token: in this answer only, never again." });
    let mut created_required = required.clone();
    created_required.as_array_mut().expect("array").push(json!("token"));
    object(json!({
        "Token": { "type": "object", "required": required, "properties": token_properties },
        "CreatedToken": { "type": "object", "required": created_required, "properties": created_properties },
        "TokenList": {
            "type": "object",
            "required": ["items"],
            "properties": { "items": { "type": "array", "items": schema("Token") } },
        },
        "TokenInput": {
            "type": "object",
            "additionalProperties": false,
            "required": ["label"],
            "properties": {
                "label": text::display_name(100, "What the token is for; stored trimmed."),
                "expires_in_days": optional(json!({
                    "description": "Days until it expires (default 90), or `never`.",
                    "oneOf": [
                        { "type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_EXPIRY_DAYS },
                        { "type": "string", "enum": ["never"] },
                    ],
                })),
                "connections": optional(json!({
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_RESTRICTED,
                    "items": text::link_name(),
                    "description": "Restrict the token to invoking these connections (link names of \
                                    existing connections); leave out for full API access.",
                })),
            },
        },
    }))
}
