//! Ownership moves, bulk actions, the emergency revoke and the services export in the OpenAPI
//! document. They mirror `api::bulk` (`TransferInput`, `BulkInput`, `OutcomeJson`) and
//! `domain::service_export`.

use serde_json::{Map, Value, json};

use super::schemas::{link_name, object};
use super::text;
use super::{ok, param_ref, paths as path_map, schema, with_errors};
use crate::domain::service_export::{FORMAT, MAX_SERVICES};
use crate::ops::bulk::MAX_ITEMS;

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

/// The paths.
pub fn paths() -> Map<String, Value> {
    let one =
        |tag: &str, id: &str, summary: &str| json!({ "tags": [tag], "operationId": id, "summary": summary });

    let mut transfer = one("connections", "transfer_connection", "Give a connection to another SDAdmin");
    transfer["description"] = json!(
        "Any SDAdmin may move any connection. The new owner must be an SDAdmin who is not disabled (422 \
         otherwise, or when they own it already); they may then edit and reconnect it. The stored \
         credentials stay, so the connection keeps working until the new owner reconnects; a consent in \
         progress ends."
    );
    transfer["requestBody"] = body(schema("TransferInput"));
    transfer["responses"] = with_errors(
        json!({ "200": ok("The connection, with its new owner.", schema("Connection")) }),
        &["404", "413", "422"],
    );

    let mut transfer_all =
        one("connections", "transfer_user_connections", "Give every connection of a user to another SDAdmin");
    transfer_all["description"] = json!(
        "In one transaction: all of the user's connections move, or none. A user who owns none is no \
         error. The new owner follows the rules of `transfer_connection` and must be another user."
    );
    transfer_all["parameters"] = json!([{
        "name": "username", "in": "path", "required": true,
        "description": "The user whose connections move.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 100 },
    }]);
    transfer_all["requestBody"] = body(schema("TransferInput"));
    transfer_all["responses"] =
        with_errors(json!({ "200": ok("What moved.", schema("UserTransfer")) }), &["404", "413", "422"]);

    let mut bulk = one("connections", "bulk_connections", "Revoke, delete or transfer many connections");
    bulk["description"] = json!(format!(
        "Acts on the connections named in `links`, or on every connection the `filter` matches (the \
         list's filters; `owner` is `me` unless it says `any`), at most {MAX_ITEMS}. Each connection goes \
         through the one-connection operation and gets its audit entry; one that fails stops none of the \
         others, and `items` says for each what happened. A revoke the provider refuses still deletes \
         the stored credentials (`provider_failed`). A transfer's new owner is checked first (422)."
    ));
    bulk["requestBody"] = body(schema("BulkInput"));
    bulk["responses"] =
        with_errors(json!({ "200": ok("Every item's outcome.", schema("BulkOutcome")) }), &["413", "422"]);

    let mut revoke_all =
        one("services", "revoke_all_connections", "Emergency: revoke every connection of a service");
    revoke_all["description"] = json!(
        "Every connection of the service, whatever their number: revoked at the provider when it can, \
         and their stored credentials deleted always."
    );
    revoke_all["responses"] =
        with_errors(json!({ "200": ok("Every connection's outcome.", schema("BulkOutcome")) }), &["404"]);

    let mut export = one("services", "export_services", "The definitions file of services (never a secret)");
    export["description"] = json!(format!(
        "A `{FORMAT}` file, version 1: what `create_service` takes for each service, without the client \
         secret (`oauth2.needs_client_secret` says whether the service uses one). Import it with `connections \
         services import` or on the Custom Services page."
    ));
    export["parameters"] = json!([{
        "name": "link", "in": "query", "required": false, "style": "form", "explode": true,
        "description": "Services to export (repeat it); none: every service. A link name that names no \
                        service is a 422.",
        "schema": { "type": "array", "maxItems": MAX_SERVICES, "items": link_name() },
    }]);
    export["responses"] =
        with_errors(json!({ "200": ok("The file.", schema("ServicesFile")) }), &["400", "422"]);

    let with = |param: &str, ops: Value| {
        let mut item = json!({ "parameters": [param_ref(param)] });
        item.as_object_mut().expect("object").extend(object(ops));
        item
    };
    path_map([
        ("/api/v1/connections/{link_name}/transfer", with("ConnectionLinkName", json!({ "post": transfer }))),
        ("/api/v1/users/{username}/transfer", json!({ "post": transfer_all })),
        ("/api/v1/connections/bulk", json!({ "post": bulk })),
        ("/api/v1/services/{link_name}/revoke-all", with("ServiceLinkName", json!({ "post": revoke_all }))),
        ("/api/v1/services/export", json!({ "get": export })),
    ])
}

/// The schemas.
pub fn schemas() -> Map<String, Value> {
    object(json!({
        "TransferInput": {
            "type": "object",
            "additionalProperties": false,
            "required": ["to"],
            "properties": {
                "to": text::plain(100, "The username of the new owner: an SDAdmin who is not disabled."),
            },
        },
        "UserTransfer": {
            "type": "object",
            "required": ["from", "to", "count", "transferred"],
            "properties": {
                "from": { "type": "string" },
                "to": { "type": "string" },
                "count": { "type": "integer" },
                "transferred": {
                    "type": "array", "items": { "type": "string" },
                    "description": "The link names of the connections that moved.",
                },
            },
        },
        "BulkInput": {
            "type": "object",
            "additionalProperties": false,
            "required": ["action"],
            "description": "`links` or `filter`, not both; `to` with a transfer only.",
            "properties": {
                "action": { "type": "string", "enum": ["revoke", "delete", "transfer"] },
                "links": {
                    "type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                    "items": { "type": "string" },
                    "description": "Link names; one that names no connection is reported as failed.",
                },
                "filter": schema("BulkFilter"),
                "to": text::plain(100, "A transfer's new owner (a username)."),
            },
        },
        "BulkFilter": {
            "type": "object",
            "additionalProperties": false,
            "description": "The connection list's filters; unknown fields are refused.",
            "properties": {
                "search": text::plain(200, "Case-insensitive substring of the display name or link name."),
                "service": link_name(),
                "status": {
                    "type": "string",
                    "enum": ["not_connected", "connected", "disconnected", "needs_reconnect", "attention"],
                },
                "auth_type": schema("AuthType"),
                "owner": { "type": "string", "enum": ["me", "any"], "default": "me" },
            },
        },
        "BulkOutcome": {
            "type": "object",
            "required": ["action", "total", "done", "provider_failed", "failed", "items"],
            "properties": {
                "action": { "type": "string", "enum": ["revoke", "delete", "transfer"] },
                "total": { "type": "integer" },
                "done": { "type": "integer" },
                "provider_failed": {
                    "type": "integer",
                    "description": "Revoked here, but the provider's revoke endpoint failed.",
                },
                "failed": { "type": "integer", "description": "Nothing was done to these." },
                "items": { "type": "array", "items": schema("BulkItem") },
            },
        },
        "BulkItem": {
            "type": "object",
            "required": ["link_name", "name", "result", "message"],
            "properties": {
                "link_name": { "type": "string" },
                "name": { "type": "string", "nullable": true, "description": "Null when it did not exist." },
                "result": { "type": "string", "enum": ["done", "provider_failed", "failed"] },
                "message": { "type": "string", "description": "What happened, or why nothing did." },
            },
        },
        "ServicesFile": {
            "type": "object",
            "required": ["format", "version", "services"],
            "properties": {
                "format": { "type": "string", "enum": [FORMAT] },
                "version": { "type": "integer", "enum": [1] },
                "services": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "description": "A `ServiceInput` without `oauth2.client_secret`; OAuth2 services \
                                        have `oauth2.needs_client_secret`.",
                    },
                },
            },
        },
    }))
}
