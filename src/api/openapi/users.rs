//! The users area of the OpenAPI document: `/api/v1/users…` and its schemas. They mirror
//! `api::users` (`UserJson`, `CreateBody`, `UpdateBody`, `ResetBody`) and the rules of
//! `ops::users` and `ops::passwords`.

use serde_json::{Map, Value, json};

use super::schemas::object;
use super::text::{WS, optional};
use super::{ok, paths as path_map, schema, with_errors};
use crate::ops::users::MAX_USERNAME;
use crate::password::MIN_PASSWORD_LEN;

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

/// The `{username}` of a path.
pub fn username_parameter() -> Value {
    json!({
        "name": "username", "in": "path", "required": true, "description": "The user's username.",
        "schema": { "type": "string", "minLength": 1, "maxLength": MAX_USERNAME },
    })
}

/// `/api/v1/users…` (but the transfer, which `bulk` documents).
pub fn paths() -> Map<String, Value> {
    let one = |id: &str, summary: &str| json!({ "tags": ["users"], "operationId": id, "summary": summary });

    let mut list = one("list_users", "List the users, by username");
    list["responses"] = with_errors(json!({ "200": ok("The users.", schema("UserList")) }), &[]);

    let mut create = one("create_user", "Add a user, who must change the password at their first sign-in");
    create["description"] = json!(
        "Without `password` one is generated and returned once, in `generated_password`; a typed one is \
         never sent back. A username already taken (in any case) is a 422."
    );
    create["requestBody"] = body(schema("UserInput"));
    create["responses"] = with_errors(
        json!({ "201": {
            "description": "Created.",
            "headers": { "Location": {
                "description": "The new user's URL.",
                "schema": { "type": "string", "example": "/api/v1/users/alice" },
            } },
            "content": { "application/json": { "schema": schema("CreatedUser") } },
        } }),
        &["413", "422"],
    );

    let mut show = one("show_user", "One user");
    show["responses"] = with_errors(json!({ "200": ok("The user.", schema("User")) }), &["404"]);

    let mut update = one("update_user", "Change a user's role or status");
    update["description"] = json!(
        "Disabling a user ends their sessions at once, and their API tokens are refused while they are \
         disabled. 409 when the change would leave no enabled SDAdmin (the last-SDAdmin rule), or disables \
         the caller's own account."
    );
    update["requestBody"] = body(schema("UserChanges"));
    update["responses"] =
        with_errors(json!({ "200": ok("The changed user.", schema("User")) }), &["404", "409", "413", "422"]);

    let mut delete = one("delete_user", "Delete a user who owns no connection");
    delete["description"] = json!(
        "Their sessions and API tokens are deleted with them. 409 for a user who owns connections (move \
         them first with `transfer_user_connections`), the last enabled SDAdmin, or the caller."
    );
    delete["responses"] = with_errors(json!({ "204": { "description": "Deleted." } }), &["404", "409"]);

    let mut reset = one("reset_user_password", "Reset a user's password and sign them out everywhere");
    reset["description"] = json!(
        "The new password (typed, or generated and returned once in `generated_password`) must be \
         changed at the user's next sign-in. Every session of the user ends; their API tokens are \
         revoked unless `keep_tokens`. 409 for the caller's own account."
    );
    reset["requestBody"] = body(schema("PasswordReset"));
    reset["responses"] = with_errors(
        json!({ "200": ok("What the reset did.", schema("PasswordResetDone")) }),
        &["404", "409", "413", "422"],
    );

    let param = username_parameter();
    path_map([
        ("/api/v1/users", json!({ "get": list, "post": create })),
        (
            "/api/v1/users/{username}",
            json!({ "parameters": [param.clone()], "get": show, "patch": update, "delete": delete }),
        ),
        ("/api/v1/users/{username}/reset-password", json!({ "parameters": [param], "post": reset })),
    ])
}

/// A password as typed: at least the policy's length, at most 1024 characters.
fn password(description: &str) -> Value {
    optional(json!({
        "type": "string", "minLength": MIN_PASSWORD_LEN, "maxLength": 1024,
        "pattern": r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$",
        "description": description,
    }))
}

/// The schemas.
pub fn schemas() -> Map<String, Value> {
    let time = |nullable: bool| json!({ "type": "string", "format": "date-time", "nullable": nullable });
    let role = json!({ "type": "string", "enum": ["sdadmin", "technician"] });
    // `null` is listed with the values: an enum that leaves it out refuses it, `nullable` or not.
    let changed_role = json!({ "type": "string", "enum": ["sdadmin", "technician", null], "nullable": true });
    let user_properties = json!({
        "username": { "type": "string" },
        "role": role.clone(),
        "status": {
            "type": "string", "enum": ["active", "disabled", "locked"],
            "description": "`locked`: too many failed sign-ins lately (it ends by itself).",
        },
        "must_change_password": {
            "type": "boolean",
            "description": "The password was chosen by an administrator: the user changes it at their next sign-in.",
        },
        "created_at": time(false),
        "last_sign_in_at": time(true),
        "connections_owned": { "type": "integer" },
        "sessions": { "type": "integer", "description": "Browser sessions within their timeouts." },
    });
    let required = json!([
        "username",
        "role",
        "status",
        "must_change_password",
        "created_at",
        "last_sign_in_at",
        "connections_owned",
        "sessions",
    ]);
    let mut created_properties = user_properties.clone();
    created_properties["generated_password"] = json!({
        "type": "string", "nullable": true,
        "description": "The generated password: in this answer only, never again. `null` when one was given.",
    });
    let mut created_required = required.clone();
    created_required.as_array_mut().expect("array").push(json!("generated_password"));
    object(json!({
        "User": { "type": "object", "required": required, "properties": user_properties },
        "CreatedUser": { "type": "object", "required": created_required, "properties": created_properties },
        "UserList": {
            "type": "object",
            "required": ["items"],
            "properties": { "items": { "type": "array", "items": schema("User") } },
        },
        "UserInput": {
            "type": "object",
            "additionalProperties": false,
            "required": ["username", "role"],
            "properties": {
                "username": {
                    "type": "string", "maxLength": MAX_USERNAME,
                    "pattern": format!("^[{WS}]*[A-Za-z0-9][A-Za-z0-9._@-]*[{WS}]*$"),
                    "description": "Letters, digits and `. _ - @`, starting with a letter or digit; not \
                                    `new`; stored trimmed.",
                },
                "role": role,
                "password": password("Leave out to have one generated."),
            },
        },
        "UserChanges": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "role": changed_role,
                "disabled": optional(json!({ "type": "boolean" })),
            },
        },
        "PasswordReset": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "password": password("Leave out to have one generated."),
                "keep_tokens": optional(json!({
                    "type": "boolean", "default": false,
                    "description": "Keep the user's API tokens working (a routine reset, not a suspected compromise).",
                })),
            },
        },
        "PasswordResetDone": {
            "type": "object",
            "required": ["username", "generated_password", "sessions_ended", "tokens_revoked"],
            "properties": {
                "username": { "type": "string" },
                "generated_password": {
                    "type": "string", "nullable": true,
                    "description": "The generated password: in this answer only. `null` when one was given.",
                },
                "sessions_ended": { "type": "integer" },
                "tokens_revoked": { "type": "integer" },
            },
        },
    }))
}
