//! The audit area of the OpenAPI document: `GET /api/v1/audit` and the shape of an entry. They
//! mirror `ops::audit` (`AuditParams`, `entry_json`).

use serde_json::{Map, Value, json};

use super::schemas::object;
use super::text;
use super::{ok, paths as path_map, schema, with_errors};
use crate::ops::audit::{DEFAULT_LIMIT, MAX_LIMIT, OBJECT_TYPES};

/// `/api/v1/audit`.
pub fn paths() -> Map<String, Value> {
    let date = |description: &str| {
        json!({
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}$",
            "description": description,
            "example": "2026-12-04",
        })
    };
    let types: Vec<&str> = OBJECT_TYPES.iter().map(|(t, _)| *t).collect();
    // Given, a filter says something: an empty one is refused.
    let exact = || {
        let mut s = text::plain(200, "Matched exactly, once trimmed.");
        s["minLength"] = json!(1);
        s
    };
    let parameters = json!([
        { "name": "actor", "in": "query",
          "description": "Only this actor: a username, the name typed at a failed sign-in, `cli` or `system`.",
          "schema": exact() },
        { "name": "action", "in": "query",
          "description": "Only this action, such as `service.update` or `auth.sign_in_failed`.",
          "schema": exact() },
        { "name": "object_type", "in": "query",
          "description": "Only objects of this type.",
          "schema": { "type": "string", "enum": types } },
        { "name": "object", "in": "query",
          "description": "Only this object: a link name, a token or endpoint id, a setting's name or a username.",
          "schema": exact() },
        { "name": "from", "in": "query", "schema": date("The first day (UTC, YYYY-MM-DD), included.") },
        { "name": "to", "in": "query", "schema": date("The last day (UTC, YYYY-MM-DD), included.") },
        { "name": "cursor", "in": "query",
          "description": "Where the page starts: the `next_cursor` of the page before, as it was given.",
          "schema": { "type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9_-]+$" } },
        { "name": "limit", "in": "query",
          "schema": {
              "type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
          } },
    ]);
    path_map([(
        "/api/v1/audit",
        json!({ "get": {
            "tags": ["audit"],
            "operationId": "list_audit",
            "summary": "The audit log, newest first: filter by actor, action, object and day; page with a cursor",
            "description": "Entries are never changed or deleted through the API; the retention setting \
                            alone removes old ones, and records that it did (`audit.pruned`). A cursor, \
                            date or filter that cannot be read is a 400.",
            "parameters": parameters,
            "responses": with_errors(json!({ "200": ok("One page of entries.", schema("AuditPage")) }), &["400", "422"]),
        } }),
    )])
}

/// What the audit API answers.
pub fn schemas() -> Map<String, Value> {
    object(json!({
        "AuditEntry": {
            "type": "object",
            "required": ["id", "at", "actor", "action", "object_type", "object", "source", "summary", "details"],
            "properties": {
                "id": { "type": "integer", "format": "int64" },
                "at": { "type": "string", "format": "date-time" },
                "actor": { "type": "string", "description": "Who: a username, `cli` or `system`." },
                "action": { "type": "string", "example": "connection.revoke" },
                "object_type": { "type": "string", "example": "connection" },
                "object": { "type": "string", "example": "zoho_desk" },
                "source": {
                    "type": "string", "nullable": true,
                    "description": "The client address the change came from; null for the CLI and the app's own work.",
                },
                "summary": { "type": "string", "description": "What changed, in one line." },
                "details": {
                    "type": "object", "nullable": true, "additionalProperties": true,
                    "description": "The changed fields, each with its old and new value (`before`, `after`; never a secret).",
                },
            },
        },
        "AuditPage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": { "type": "array", "items": schema("AuditEntry") },
                "next_cursor": {
                    "type": "string", "nullable": true,
                    "description": "The cursor of the next (older) page; null on the last page.",
                },
            },
        },
    }))
}
