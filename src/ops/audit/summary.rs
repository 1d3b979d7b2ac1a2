//! An entry as people and programs read it: a one-line summary of its details (what changed, from
//! what to what), and the JSON object the API and the JSON export give.

use serde_json::{Value, json};

use crate::models::audit::AuditEntry;

/// The longest summary, in characters; the details hold the rest.
const MAX_SUMMARY: usize = 300;
/// The longest value a summary quotes, in characters.
const MAX_VALUE: usize = 80;

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

/// A value as a summary quotes it: text as it is, anything else as compact JSON.
fn quoted(value: &Value) -> String {
    let text = match value {
        Value::Null => "—".to_owned(),
        Value::String(s) if s.is_empty() => "“”".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    shorten(&text, MAX_VALUE)
}

/// "name: Old → New; client_secret changed; reason: wrong password": the fields with their old and
/// new values, then the fields named as changed without values (secrets), then the other details.
pub fn summary(details: &str) -> String {
    let Ok(Value::Object(details)) = serde_json::from_str::<Value>(details) else {
        return String::new();
    };
    let mut parts: Vec<String> = Vec::new();
    let fields = details.get("fields").and_then(Value::as_object);
    for (name, change) in fields.into_iter().flatten() {
        parts.push(format!("{name}: {} → {}", quoted(&change["before"]), quoted(&change["after"])));
    }
    let changed = details.get("changed").and_then(Value::as_array);
    for name in changed.into_iter().flatten().filter_map(Value::as_str) {
        if !fields.is_some_and(|f| f.contains_key(name)) {
            parts.push(format!("{name} changed"));
        }
    }
    for (key, value) in &details {
        let empty = matches!(value, Value::Array(a) if a.is_empty()) || value.is_null();
        if !matches!(key.as_str(), "fields" | "changed") && !empty {
            parts.push(format!("{key}: {}", quoted(value)));
        }
    }
    shorten(&parts.join("; "), MAX_SUMMARY)
}

/// The API's and the JSON export's shape of an entry.
pub fn entry_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "at": crate::clock::rfc3339(e.at),
        "actor": e.actor,
        "action": e.action,
        "object_type": e.target_type,
        "object": e.target,
        "source": e.source,
        "summary": summary(&e.details),
        "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null),
    })
}
