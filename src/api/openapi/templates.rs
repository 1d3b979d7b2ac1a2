//! The templates area of the OpenAPI document: `/api/v1/templates…` (`api::templates`).

use serde_json::{Map, Value, json};

use super::schemas::object;
use super::{ok, paths as path_map, schema, with_errors};

/// `/api/v1/templates…`.
pub fn paths() -> Map<String, Value> {
    path_map([
        (
            "/api/v1/templates",
            json!({
                "get": {
                    "tags": ["templates"],
                    "operationId": "list_templates",
                    "summary": "The service catalogue: every template, by name",
                    "responses": with_errors(
                        json!({ "200": ok("Every template.", schema("TemplateList")) }),
                        &[],
                    ),
                },
            }),
        ),
        (
            "/api/v1/templates/{id}",
            json!({
                "get": {
                    "tags": ["templates"],
                    "operationId": "show_template",
                    "summary": "One template",
                    "parameters": [{
                        "name": "id", "in": "path", "required": true,
                        "description": "The template's id (its file name in the catalogue).",
                        "schema": { "type": "string" },
                    }],
                    "responses": with_errors(
                        json!({ "200": ok("The template.", schema("Template")) }),
                        &["404"],
                    ),
                },
            }),
        ),
    ])
}

pub fn schemas() -> Map<String, Value> {
    let text = |description: &str| json!({ "type": "string", "description": description });
    object(json!({
        "Template": {
            "type": "object",
            "required": ["id", "version", "name", "category", "auth_type", "docs", "setup", "service"],
            "properties": {
                "id": text("What `template` names when a service is created from it."),
                "version": { "type": "integer", "format": "int32" },
                "name": text("The provider and product."),
                "category": text("What kind of application it is."),
                "auth_type": schema("AuthType"),
                "docs": {
                    "type": "array", "items": { "type": "string", "format": "uri" },
                    "description": "The provider documentation its settings follow.",
                },
                "setup": {
                    "type": "array", "items": { "type": "string" },
                    "description": "What to do at the provider, with this portal's callback URL in place.",
                },
                "service": {
                    "allOf": [schema("ServiceInput")],
                    "description": "The service to create (`POST /api/v1/services`), with `template` set to \
                                    its id and, for OAuth2, the client id and secret added.",
                },
            },
        },
        "TemplateList": {
            "type": "object",
            "required": ["items", "total"],
            "properties": {
                "items": { "type": "array", "items": schema("Template") },
                "total": { "type": "integer" },
            },
        },
    }))
}
