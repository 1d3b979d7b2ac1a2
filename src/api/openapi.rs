//! `GET /api/v1/openapi.json`: the OpenAPI 3.0.3 document of the JSON API. Paths come from one
//! function per area (`meta_paths`, `services_paths`, `connections::paths`); `tests/it/openapi.rs`
//! checks them against THE route table both ways, so a new `/api/v1` route cannot ship undocumented.

mod audit;
mod bulk;
mod connections;
mod proxy;
mod schemas;
mod service_inputs;
mod templates;
mod text;
mod tokens;
mod users;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

/// The document, built once per request (it is small and never on a hot path).
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(spec())
}

/// The whole document.
pub fn spec() -> Value {
    let mut paths = Map::new();
    let areas = [
        meta_paths(),
        services_paths(),
        templates::paths(),
        connections::paths(),
        proxy::paths(),
        tokens::paths(),
        users::paths(),
        bulk::paths(),
        audit::paths(),
    ];
    for area in areas {
        paths.extend(area);
    }
    let mut parameters = parameters();
    parameters.extend(connections::parameters());
    let mut schemas = schemas::all();
    schemas.extend(connections::schemas());
    schemas.extend(templates::schemas());
    schemas.extend(tokens::schemas());
    schemas.extend(users::schemas());
    schemas.extend(bulk::schemas());
    schemas.extend(audit::schemas());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Connections API",
            "version": "1",
            "description": "Custom services and connections of the Connections admin application. Every \
                            operation needs the API token of an SDAdmin as `Authorization: Bearer <token>` \
                            (create one under My API Tokens, with `POST /api/v1/tokens` or with \
                            `connections token create`). A token restricted to connections may only \
                            invoke, proxy and test them. No response ever carries a secret.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearerAuth": [] }],
        "tags": [
            { "name": "meta", "description": "The token's user and this document." },
            {
                "name": "services",
                "description": "Custom services: how to authenticate to a third-party application.",
            },
            {
                "name": "templates",
                "description": "The service catalogue: providers' settings, ready to create a service from.",
            },
            {
                "name": "connections",
                "description": "Connections to a service: stored credentials, used without revealing them.",
            },
            { "name": "tokens", "description": "API tokens: expiring, and restricted for scripts." },
            { "name": "audit", "description": "The audit log: who changed what, from where. Read-only." },
            { "name": "users", "description": "Who may sign in: roles, status, passwords." },
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An SDAdmin's API token.",
                },
            },
            "parameters": parameters,
            "responses": responses(),
            "schemas": schemas,
        },
    })
}

/// `/api/v1/me` and this document.
fn meta_paths() -> Map<String, Value> {
    paths([
        (
            "/api/v1/me",
            json!({
                "get": {
                    "tags": ["meta"],
                    "operationId": "show_me",
                    "summary": "The user the API token belongs to",
                    "responses": with_errors(
                        json!({ "200": ok("The token's user.", schema("Me")) }),
                        &[],
                    ),
                },
            }),
        ),
        (
            "/api/v1/openapi.json",
            json!({
                "get": {
                    "tags": ["meta"],
                    "operationId": "openapi_document",
                    "summary": "This OpenAPI document",
                    "security": [],
                    "responses": { "200": ok("The OpenAPI 3.0.3 document.", json!({ "type": "object" })) },
                },
            }),
        ),
    ])
}

/// `/api/v1/services…`: the Custom Services API.
fn services_paths() -> Map<String, Value> {
    paths([
        (
            "/api/v1/services",
            json!({
                "get": {
                    "tags": ["services"],
                    "operationId": "list_services",
                    "summary": "List services: search, filter, sort, paginate",
                    "parameters": [
                        {
                            "name": "search", "in": "query",
                            "schema": text::plain(
                                200,
                                "Case-insensitive substring of the display name or the link name.",
                            ),
                        },
                        {
                            "name": "auth_type", "in": "query",
                            "schema": { "$ref": "#/components/schemas/AuthType" },
                        },
                        {
                            "name": "sort", "in": "query",
                            "description": "By name or last update; `-` means descending.",
                            "schema": {
                                "type": "string",
                                "enum": ["name", "-name", "updated", "-updated"],
                                "default": "name",
                            },
                        },
                        param_ref("Page"),
                        param_ref("PerPage"),
                    ],
                    "responses": with_errors(
                        json!({ "200": ok("One page of services.", schema("ServiceList")) }),
                        &["400", "422"],
                    ),
                },
                "post": {
                    "tags": ["services"],
                    "operationId": "create_service",
                    "summary": "Create a service",
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": schema("ServiceInput") } },
                    },
                    "responses": with_errors(
                        json!({ "201": {
                            "description": "Created.",
                            "headers": { "Location": {
                                "description": "The new service's URL.",
                                "schema": { "type": "string", "example": "/api/v1/services/zoho_desk" },
                            } },
                            "content": { "application/json": { "schema": schema("Service") } },
                        } }),
                        &["413", "422"],
                    ),
                },
            }),
        ),
        (
            "/api/v1/services/{link_name}",
            json!({
                "parameters": [param_ref("ServiceLinkName")],
                "get": {
                    "tags": ["services"],
                    "operationId": "show_service",
                    "summary": "One service",
                    "responses": with_errors(
                        json!({ "200": ok("The service.", schema("Service")) }),
                        &["404"],
                    ),
                },
                "patch": {
                    "tags": ["services"],
                    "operationId": "update_service",
                    "summary": "Change a service",
                    "description": "Fields left out keep their stored values; a blank or absent \
                                    `oauth2.client_secret` keeps the stored secret. The link name cannot \
                                    change. With connections in place, the authentication type, the API \
                                    key parameter names and the grant type cannot change. Credentials go \
                                    only where they were entrusted: a change that moves the API base URL \
                                    or an OAuth2 endpoint to another origin (scheme, host or port) needs \
                                    the client secret sent again when the secret's endpoints move (422 \
                                    otherwise), and answers 409 `confirmation_required`, listing the \
                                    connections it would set aside until their owners reconnect, unless \
                                    `confirm_disconnect=true`.",
                    "parameters": [{
                        "name": "confirm_disconnect",
                        "in": "query",
                        "required": false,
                        "description":
                            "Apply a change that sets connections aside until their owners reconnect.",
                        "schema": { "type": "boolean", "default": false },
                    }],
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": schema("ServiceChanges") } },
                    },
                    "responses": with_errors(
                        json!({ "200": ok("The changed service.", schema("Service")) }),
                        &["400", "404", "409", "413", "422"],
                    ),
                },
                "delete": {
                    "tags": ["services"],
                    "operationId": "delete_service",
                    "summary": "Delete a service no connection uses",
                    "responses": with_errors(
                        json!({ "204": { "description": "Deleted." } }),
                        &["404", "409"],
                    ),
                },
            }),
        ),
    ])
}

fn paths<const N: usize>(items: [(&str, Value); N]) -> Map<String, Value> {
    items.into_iter().map(|(path, item)| (path.to_owned(), item)).collect()
}

/// A `$ref` to a component schema.
pub(crate) fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn param_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn ok(description: &str, body: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": body } } })
}

/// Adds the error responses every authenticated operation can give (401, 403, 500, 503) and `extra`
/// ones by status code.
fn with_errors(mut responses: Value, extra: &[&str]) -> Value {
    let map = responses.as_object_mut().expect("responses is an object");
    for status in ["401", "403", "500", "503"].iter().chain(extra) {
        let name = match *status {
            "400" => "BadRequest",
            "401" => "Unauthorized",
            "403" => "Forbidden",
            "404" => "NotFound",
            "409" => "Conflict",
            "408" => "BodyTimeout",
            "413" => "TooLarge",
            "422" => "Invalid",
            "502" => "Upstream",
            "503" => "Unavailable",
            "504" => "UpstreamTimeout",
            _ => "ServerError",
        };
        map.insert((*status).to_owned(), json!({ "$ref": format!("#/components/responses/{name}") }));
    }
    responses
}

fn parameters() -> Map<String, Value> {
    schemas::object(json!({
        "ServiceLinkName": {
            "name": "link_name", "in": "path", "required": true,
            "description": "The service's link name.",
            "schema": schemas::link_name(),
        },
        "Page": {
            "name": "page", "in": "query",
            "schema": {
                "type": "integer",
                "format": "int64",
                "minimum": 1,
                "maximum": 1_000_000,
                "default": 1,
            },
        },
        "PerPage": {
            "name": "per_page", "in": "query",
            "schema": { "type": "integer", "format": "int64", "minimum": 1, "maximum": 100, "default": 25 },
        },
    }))
}

fn error_response(description: &str, schema_name: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema(schema_name) } },
    })
}

fn responses() -> Value {
    let mut unauthorized = error_response(
        "No valid API token: send `Authorization: Bearer <token>`. An expired token gets code \
         `token_expired`.",
        "Error",
    );
    unauthorized["headers"] =
        json!({ "WWW-Authenticate": { "schema": { "type": "string", "example": "Bearer" } } });
    let mut unavailable = error_response(
        "The database is unavailable right now (sent with `Retry-After`), or no new token can be had now \
         (the message says why; sent with `Retry-After` when the provider asked for fewer token requests).",
        "Error",
    );
    unavailable["headers"] = json!({ "Retry-After": {
        "description": "Seconds to wait before trying again, when the database is unavailable or the \
                        provider asked this service's token requests to pause.",
        "schema": { "type": "integer", "example": 5 },
    } });
    json!({
        "BadRequest": error_response(
            "The query string could not be read, or a value in it (a cursor, a date) is not one the \
             operation takes.",
            "Error",
        ),
        "Unauthorized": unauthorized,
        "Forbidden": error_response(
            "The token's user is not an SDAdmin, or the token is restricted to invoking other connections \
             (the message lists them).",
            "Error",
        ),
        "NotFound": error_response("No such item.", "Error"),
        "Conflict": error_response(
            "The item is in use (a service that connections use), the connection is not usable in its \
             status (code `not_connected`, with `error.status`), or the rules refuse a change to a user \
             (the last enabled SDAdmin, the caller's own account, a user who owns connections).",
            "Error",
        ),
        "TooLarge": error_response("The body is larger than 256 KiB.", "Error"),
        "BodyTimeout": error_response(
            "The request's body did not arrive in time (code `timeout`).",
            "Error",
        ),
        "Upstream": error_response(
            "The provider or the service's API failed or could not be reached.",
            "Error",
        ),
        "UpstreamTimeout": error_response(
            "The service's API did not answer in time (code `upstream_timeout`).",
            "Error",
        ),
        "Invalid": error_response("The input is not valid: a message per field.", "ValidationError"),
        "ServerError": error_response(
            "Something went wrong on our side (the cause is logged, never sent).",
            "Error",
        ),
        "Unavailable": unavailable,
    })
}
