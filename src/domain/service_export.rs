//! The service definitions file: `{"format": "connections.services", "version": 1, "services": […]}`.
//! Each service is what `POST /api/v1/services` takes, without a secret ever: the client secret is
//! left out, and `oauth2.needs_client_secret` says whether the exported service uses one (it had
//! one, or was imported and waits for it), so that the imported one asks for it. Keys are sorted
//! and the services ordered by link name, so the same definitions always make the same bytes.
//! Reading a file checks its shape here; each service is then checked by the API's create rules
//! (`ops::service_io`).

use serde_json::{Map, Value, json};

use crate::domain::service::{AuthType, GrantType};
use crate::domain::service_input::ServiceInput;
use crate::domain::validate::{push, without_values};
use crate::error::FieldErrors;

pub const FORMAT: &str = "connections.services";
pub const VERSION: u64 = 1;
/// A file holds at most this many services, and at most `MAX_BYTES` (the app's request body limit).
pub const MAX_SERVICES: usize = 500;
pub const MAX_BYTES: usize = 256 * 1024;
/// The flag that stands for the client secret.
const SECRET_SET: &str = "needs_client_secret";

/// `value` without its `null` members, at any depth (they mean "not set", as absent ones do).
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// One service's definition from its create input (no secret): the template it came from and, for
/// OAuth2, whether it uses a client secret.
pub fn definition(mut input: ServiceInput, secret_set: bool) -> Value {
    if let Some(oauth2) = input.oauth2.as_mut() {
        oauth2.client_secret = None;
    }
    let mut value = without_nulls(serde_json::to_value(&input).unwrap_or_default());
    if let Some(oauth2) = value.get_mut("oauth2").and_then(Value::as_object_mut) {
        oauth2.insert(SECRET_SET.into(), json!(secret_set));
    }
    value
}

/// The file for `definitions` (as `definition` makes them), ordered by link name and indented for
/// people to read.
pub fn document(mut definitions: Vec<Value>) -> String {
    let link = |v: &Value| v.get("link_name").and_then(Value::as_str).unwrap_or_default().to_owned();
    definitions.sort_by_key(link);
    let doc = json!({ "format": FORMAT, "version": VERSION, "services": definitions });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// The services of a file, or why the file as a whole cannot be read.
pub fn services_of(raw: &str) -> Result<Vec<Value>, String> {
    if raw.len() > MAX_BYTES {
        return Err(format!(
            "The file is larger than {} KiB: export fewer services per file.",
            MAX_BYTES / 1024
        ));
    }
    let doc: Value = serde_json::from_str(raw).map_err(|e| format!("The file is not valid JSON: {e}."))?;
    let Some(fields) = doc.as_object() else {
        return Err("The file is not a services file: it holds no JSON object.".into());
    };
    if fields.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!("The file is not a services file: its \"format\" is not \"{FORMAT}\"."));
    }
    match fields.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(format!(
                "The file is version {other}; this Connections reads version {VERSION}. Export it again \
                 from a Connections of this version."
            ));
        }
        None => return Err("The file has no version number.".into()),
    }
    let Some(services) = fields.get("services").and_then(Value::as_array) else {
        return Err("The file has no list of services.".into());
    };
    if services.is_empty() {
        return Err("The file holds no service.".into());
    }
    if services.len() > MAX_SERVICES {
        return Err(format!(
            "The file holds {} services; import at most {MAX_SERVICES} at once.",
            services.len()
        ));
    }
    Ok(services.clone())
}

/// One definition read back: the create input, and whether the service needs its client secret
/// entered after the import. Problems are keyed by field, as the API's create reports them.
pub fn input_of(definition: Value) -> Result<(ServiceInput, bool), FieldErrors> {
    let mut errors = FieldErrors::new();
    let Value::Object(mut fields) = definition else {
        push(&mut errors, "service", "Each service is a JSON object.");
        return Err(errors);
    };
    let mut secret_set = false;
    if let Some(Value::Object(oauth2)) = fields.get_mut("oauth2") {
        if oauth2.contains_key("client_secret") {
            push(
                &mut errors,
                "oauth2.client_secret",
                "A services file carries no secret: remove the client secret, and enter it on the \
                 service's page after the import.",
            );
        }
        match oauth2.remove(SECRET_SET) {
            None => {}
            Some(Value::Bool(set)) => secret_set = set,
            Some(_) => push(&mut errors, "oauth2.needs_client_secret", "Use true or false."),
        }
    }
    let input: ServiceInput = match serde_json::from_value(Value::Object(Map::from_iter(fields))) {
        Ok(input) => input,
        Err(e) => {
            push(&mut errors, "service", format!("This is not a valid service: {}.", without_values(&e)));
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let oauth2 = input.auth_type.as_deref().and_then(AuthType::parse) == Some(AuthType::OAuth2);
    let client_credentials = input
        .oauth2
        .as_ref()
        .and_then(|o| o.grant_type.as_deref())
        .is_some_and(|g| g.trim() == GrantType::ClientCredentials.as_str());
    Ok((input, oauth2 && (secret_set || client_credentials)))
}

#[cfg(test)]
mod tests;
