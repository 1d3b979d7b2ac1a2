//! The proxy's part of the OpenAPI document: `/api/v1/connections/{link_name}/proxy/{path}` with one
//! operation per method it serves (`api::proxy`). The upstream's answer passes through whatever its
//! status, so besides the app's own errors each operation documents a `default` response.

use serde_json::{Map, Value, json};

use super::{param_ref, paths as path_map, with_errors};

/// The methods the proxy serves, as the route table lists them.
const METHODS: [&str; 7] = ["get", "head", "post", "put", "patch", "delete", "options"];

/// The app's own answers besides 401, 403, 500 and 503 (see `with_errors`).
const OWN: [&str; 6] = ["404", "408", "409", "422", "502", "504"];

/// `/api/v1/connections/{link_name}/proxy/{path}`.
pub fn paths() -> Map<String, Value> {
    let mut item = json!({
        "parameters": [
            param_ref("ConnectionLinkName"),
            {
                "name": "path", "in": "path", "required": true,
                "description": "Joined to the service's API base URL and sent as it came (with the query \
                                string). It must stay under the base URL: `..` segments, empty segments \
                                and encoded slashes, backslashes or dots are refused (422).",
                "schema": { "type": "string" },
            },
        ],
    });
    for method in METHODS {
        item[method] = operation(method);
    }
    path_map([("/api/v1/connections/{link_name}/proxy/{path}", item)])
}

fn operation(method: &str) -> Value {
    let passthrough = json!({
        "description": "The service's answer as it came: its status, its headers (less `Set-Cookie` and \
                        hop-by-hop ones) and its body, streamed. Echoes of the connection's secrets are \
                        masked in headers and in text bodies (text/*, JSON, XML, forms); binary bodies pass \
                        unmasked. After a refused OAuth2 token whose request could not be sent again, a 401 \
                        carries `Connections-Token-Refreshed: true`.",
    });
    let mut op = json!({
        "tags": ["connections"],
        "operationId": format!("proxy_{method}"),
        "summary": format!("Send a {} through the connection, as it is", method.to_uppercase()),
        "description": "A transparent proxy to the service's API: the caller's method, path, query, headers \
                        and body go to the service's API base URL with the connection's credentials \
                        injected; the caller's `Authorization` (its API token for this app), cookies and \
                        hop-by-hop headers are not forwarded. Bodies stream both ways, without a size cap. \
                        The app's own errors are JSON with `error.code`; any other answer is the service's.",
    });
    let mut responses = with_errors(json!({ "200": passthrough.clone(), "default": passthrough }), &OWN);
    if method == "head" {
        // A HEAD answer has no body: the same statuses, without one.
        for (status, response) in responses.as_object_mut().expect("responses is an object") {
            if status != "200" && status != "default" {
                *response =
                    json!({ "description": format!("The app's own answer (see {} on GET).", status) });
            }
        }
    }
    op["responses"] = responses;
    if matches!(method, "post" | "put" | "patch" | "delete") {
        op["requestBody"] = json!({
            "required": false,
            "description": "Any body of any type, sent on as it comes (streamed when over 64 KiB).",
            "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } },
        });
    }
    op
}
