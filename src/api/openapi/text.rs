//! The shapes of input text in the OpenAPI document, written to match `domain::validate` and its
//! callers exactly: surrounding whitespace is dropped (Rust's `str::trim`, Unicode White_Space),
//! limits count the characters as sent, and control characters are refused. A fuzzer checks both
//! ways that what the document admits is accepted and what it refuses is refused.

use serde_json::{Value, json};

/// What `str::trim` drops, as a character-class body.
pub(super) const WS: &str = r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (Unicode Cc), as a character-class body.
const CC: &str = r"\u0000-\u001f\u007f-\u009f";

fn text(pattern: String, max: Option<usize>, description: &str) -> Value {
    let mut v = json!({ "type": "string", "pattern": pattern, "description": description });
    if let Some(max) = max {
        v["maxLength"] = json!(max);
    }
    v
}

/// A name people read: not blank, no control characters, at most `max` characters; stored trimmed.
pub fn display_name(max: usize, description: &str) -> Value {
    text(format!("^[^{CC}]*[^{CC}{WS}][^{CC}]*$"), Some(max), description)
}

/// Text without control characters (blank allowed), at most `max` characters.
pub fn plain(max: usize, description: &str) -> Value {
    text(format!("^[^{CC}]*$"), Some(max), description)
}

/// A link name as input: snake_case once trimmed, at most 50 characters as sent.
pub fn link_name() -> Value {
    let mut v = text(
        format!("^[{WS}]*[a-z][a-z0-9]*(_[a-z0-9]+)*[{WS}]*$"),
        Some(50),
        "snake_case: a lowercase letter, then lowercase letters, digits and single underscores (stored \
         trimmed).",
    );
    v["example"] = json!("zoho_desk");
    v
}

/// One word (no whitespace or control characters inside), whitespace around it dropped; `blank`:
/// whether nothing but whitespace is allowed (it then means the default).
pub fn word(max: Option<usize>, blank: bool, description: &str) -> Value {
    let repeat = if blank { "*" } else { "+" };
    text(format!("^[{WS}]*[^{CC}{WS}]{repeat}[{WS}]*$"), max, description)
}

/// A word of at most `max` characters once trimmed (any whitespace around it).
pub fn short_word(max: usize, description: &str) -> Value {
    text(format!("^[{WS}]*[^{CC}{WS}]{{0,{max}}}[{WS}]*$"), None, description)
}

/// One line once trimmed (no CR, LF or NUL inside), at most `max` characters as sent; `also`: more
/// characters refused inside.
pub fn line(max: usize, also: &str, description: &str) -> Value {
    text(format!(r"^[{WS}]*[^\r\n\u0000{also}]*[{WS}]*$"), Some(max), description)
}

/// Free text: control characters other than tab and line breaks refused, at most `max` characters.
pub fn paragraph(max: usize, description: &str) -> Value {
    text(r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$".to_owned(), Some(max), description)
}

/// What an API key is sent after: empty, or printable ASCII kept as sent (spaces included) that is
/// not only spaces, at most 50 characters.
pub fn value_prefix() -> Value {
    text(
        "^(?:|[ -~]*[!-~][ -~]*)$".to_owned(),
        Some(50),
        "Sent before the key, as typed (e.g. `SSWS ` for Okta, `Token token=` for PagerDuty); empty for \
         none.",
    )
}

/// An optional input property: `null` is taken for leaving it out.
pub fn optional(mut schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        return json!({ "allOf": [schema], "nullable": true });
    }
    schema["nullable"] = json!(true);
    schema
}

/// Blank (whitespace only, which then means a default) or text without control characters, at most
/// `max` characters as sent.
pub fn blank_or_plain(max: usize, description: &str) -> Value {
    text(format!("^(?:[{WS}]*|[^{CC}]*)$"), Some(max), description)
}

/// One line kept as sent (no CR, LF or NUL anywhere), at most `max` characters.
pub fn plain_line(max: usize, description: &str) -> Value {
    text(r"^[^\r\n\u0000]*$".to_owned(), Some(max), description)
}
