//! The service form's values as the page shows them, and their conversion from the posted fields and
//! into `ServiceInput`. One table (`FIELDS`) says where each plain field goes in the input; rows
//! (parameters, scopes, extra parameters, connection variables) arrive as repeated fields, and a few
//! fields need a word of their own (the token's name, the refresh statuses).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::domain::service_input::ServiceInput;

/// The form's plain fields, each with its place in a `ServiceInput`'s JSON (`section.field`).
const FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("link_name", "link_name"),
    ("description", "description"),
    ("auth_type", "auth_type"),
    ("api_base_url", "api_base_url"),
    ("test_request", "test_request"),
    ("param_type", "api_key.param_type"),
    ("grant_type", "oauth2.grant_type"),
    ("client_id", "oauth2.client_id"),
    ("authorization_url", "oauth2.authorization_url"),
    ("token_url", "oauth2.token_url"),
    ("refresh_url", "oauth2.refresh_url"),
    ("revoke_url", "oauth2.revoke_url"),
    ("issuer", "oauth2.issuer"),
    ("client_auth", "oauth2.client_auth"),
    ("scope_delimiter", "oauth2.scope_delimiter"),
    ("token_in", "oauth2.token_placement.in"),
    ("token_prefix", "oauth2.token_placement.prefix"),
    ("template", "template"),
    ("token_request_format", "oauth2.token_request_format"),
    ("response_access_token", "oauth2.token_response.access_token"),
    ("response_refresh_token", "oauth2.token_response.refresh_token"),
    ("response_expires_in", "oauth2.token_response.expires_in"),
    ("response_refresh_token_expires_in", "oauth2.token_response.refresh_token_expires_in"),
    ("response_scope", "oauth2.token_response.scope"),
    ("expires_in_unit", "oauth2.token_response.expires_in_unit"),
    ("expired_path", "oauth2.expired_when.path"),
    ("expired_equals", "oauth2.expired_when.equals"),
];

/// The form's yes/no selects ("on"/"off"), each with its place in the input and its default.
const SWITCHES: &[(&str, &str, bool)] =
    &[("pkce", "oauth2.pkce", true), ("scope_on_refresh", "oauth2.scope_on_refresh", false)];

/// The form's lists of error codes, typed comma-separated.
const CODE_LISTS: &[(&str, &str)] = &[
    ("dead_grant_errors", "oauth2.dead_grant_errors"),
    ("client_refused_errors", "oauth2.client_refused_errors"),
];

/// The form's rows: (kind, the fields of a row as posted, their names in the input's JSON, where the
/// list goes). Extra parameters are an object rather than a list.
const ROWS: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "params",
        &["param_name", "param_display", "param_prefix"],
        &["name", "display_name", "value_prefix"],
        "api_key.params",
    ),
    ("scopes", &["scope", "scope_display"], &["scope", "display_name"], "oauth2.scopes"),
    ("extra", &["extra_key", "extra_value"], &["", ""], "oauth2.extra_auth_params"),
    ("vars", &["var_name", "var_display"], &["name", "display_name"], "connection_variables"),
    (
        "captures",
        &["cap_name", "cap_display", "cap_source", "cap_key", "cap_kind", "cap_allowed"],
        &["name", "display_name", "source", "key", "kind", "allowed"],
        "oauth2.captured_values",
    ),
];

/// The columns of a captured value's row that are typed (the others are selects, never empty).
const CAPTURE_TYPED: [usize; 4] = [0, 1, 3, 5];

/// One row of a list as typed, a value per column of its kind in `ROWS`.
pub type Row = Vec<String>;

/// A row with nothing typed in it (an unused "+"); a captured value's selects do not count.
fn is_blank(row: &Row) -> bool {
    let typed: Vec<&String> = match row.len() {
        6 => CAPTURE_TYPED.iter().filter_map(|i| row.get(*i)).collect(),
        _ => row.iter().collect(),
    };
    typed.iter().all(|cell| cell.trim().is_empty())
}

/// An allow-list as typed: one entry a line (or comma-separated).
fn allowed_entries(typed: &str) -> Vec<String> {
    typed.split(['\n', ',']).map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect()
}

/// Every field of the form as text, the way the page renders it back.
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    fields: HashMap<&'static str, String>,
    /// The token's name where it goes: a header's or a query parameter's.
    pub token_header_name: String,
    pub token_query_name: String,
    /// "403, 419": statuses besides 401 that trigger a refresh.
    pub refresh_on_status: String,
    /// The yes/no selects (`SWITCHES`) and the code lists (`CODE_LISTS`) as typed.
    others: HashMap<&'static str, String>,
    /// Days, as typed; blank for none.
    pub keep_alive_days: String,
    pub params: Vec<Row>,
    pub extra: Vec<Row>,
    pub scopes: Vec<Row>,
    /// Connection variables: name, display name.
    pub vars: Vec<Row>,
    /// Captured values: name, display name, source, key, kind, allowed entries (one a line).
    pub captures: Vec<Row>,
}

/// A no-JavaScript "+" or "×" press: the form comes back with a row added or removed.
pub enum RowEdit {
    Add(String),
    Remove(String, usize),
}

/// What the posted form holds besides its values.
pub struct Posted {
    pub values: FormValues,
    /// Write-only: used for validation, never rendered back.
    pub client_secret: String,
    pub row_edit: Option<RowEdit>,
    pub return_to: Option<String>,
    /// The admin confirmed that the change sets connections aside (see `ops::services::update`).
    pub confirmed: bool,
}

impl FormValues {
    /// A plain field's value.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    pub fn set(&mut self, name: &str, value: String) {
        if let Some((field, _)) = FIELDS.iter().find(|(f, _)| *f == name) {
            self.fields.insert(field, value);
            return;
        }
        let others = SWITCHES.iter().map(|(f, ..)| *f).chain(CODE_LISTS.iter().map(|(f, _)| *f));
        if let Some(field) = others.into_iter().find(|f| *f == name) {
            self.others.insert(field, value);
        }
    }

    /// A yes/no select's or a code list's value as typed (a switch: "on" or "off").
    pub fn other(&self, name: &str) -> &str {
        match self.others.get(name) {
            Some(value) => value,
            None => SWITCHES
                .iter()
                .find(|(f, ..)| *f == name)
                .map_or("", |(.., on)| if *on { "on" } else { "off" }),
        }
    }

    /// The values of a new service: API Key in a header with one empty row, OAuth2 defaults filled in.
    pub fn new_service() -> FormValues {
        let mut v = FormValues {
            token_header_name: "Authorization".into(),
            token_query_name: "access_token".into(),
            params: vec![blank_row("params")],
            scopes: vec![blank_row("scopes")],
            ..FormValues::default()
        };
        for (field, value) in [
            ("auth_type", "api_key"),
            ("param_type", "header"),
            ("grant_type", "authorization_code"),
            ("client_auth", "basic"),
            ("scope_delimiter", " "),
            ("token_in", "header"),
            ("token_prefix", "Bearer"),
            ("token_request_format", "form"),
            ("expires_in_unit", "seconds"),
        ] {
            v.set(field, value.to_owned());
        }
        v
    }

    /// Reads the posted fields; repeated fields pair up in order.
    pub fn from_pairs(pairs: &[(String, String)]) -> Posted {
        let mut v = FormValues::default();
        let (mut client_secret, mut row_edit, mut return_to, mut confirmed) =
            (String::new(), None, None, false);
        let mut columns: HashMap<&str, Vec<String>> = HashMap::new();
        for (key, value) in pairs {
            let value = value.clone();
            match key.as_str() {
                "client_secret" => client_secret = value,
                "token_header_name" => v.token_header_name = value,
                "token_query_name" => v.token_query_name = value,
                "refresh_on_status" => v.refresh_on_status = value,
                "keep_alive_days" => v.keep_alive_days = value,
                "add_row" => row_edit = Some(RowEdit::Add(value)),
                "remove_row" => {
                    row_edit = value
                        .split_once(':')
                        .and_then(|(kind, i)| Some(RowEdit::Remove(kind.to_owned(), i.parse().ok()?)))
                }
                "return_to" => return_to = Some(value),
                "confirm_reconnects" => confirmed = value == "yes",
                other => match ROWS.iter().flat_map(|(_, posted, ..)| posted.iter()).find(|f| **f == other) {
                    Some(column) => columns.entry(column).or_default().push(value),
                    None => v.set(other, value),
                },
            }
        }
        for (kind, posted, ..) in ROWS {
            let cells = posted.iter().map(|f| columns.remove(f).unwrap_or_default()).collect();
            *v.rows_mut(kind).expect("a row kind") = zip_rows(cells);
        }
        Posted { values: v, client_secret, row_edit, return_to, confirmed }
    }

    fn rows_mut(&mut self, kind: &str) -> Option<&mut Vec<Row>> {
        match kind {
            "params" => Some(&mut self.params),
            "extra" => Some(&mut self.extra),
            "scopes" => Some(&mut self.scopes),
            "vars" => Some(&mut self.vars),
            "captures" => Some(&mut self.captures),
            _ => None,
        }
    }

    fn rows(&self, kind: &str) -> &[Row] {
        match kind {
            "params" => &self.params,
            "extra" => &self.extra,
            "vars" => &self.vars,
            "captures" => &self.captures,
            _ => &self.scopes,
        }
    }

    /// Applies a no-JS row button press.
    pub fn edit_rows(&mut self, edit: &RowEdit) {
        let (RowEdit::Add(kind) | RowEdit::Remove(kind, _)) = edit;
        let Some(target) = self.rows_mut(kind) else { return };
        match edit {
            RowEdit::Add(kind) => target.push(blank_row(kind)),
            RowEdit::Remove(_, i) if *i < target.len() => {
                target.remove(*i);
            }
            RowEdit::Remove(..) => {}
        }
    }

    /// Drops rows left empty (an unused "+"): row errors count filled rows only, so the re-rendered
    /// form must show the same rows for each message to land on its own row.
    pub fn drop_blank_rows(&mut self) {
        for rows in [&mut self.params, &mut self.extra, &mut self.scopes, &mut self.vars, &mut self.captures]
        {
            rows.retain(|row| !is_blank(row));
        }
    }

    /// The input to validate: every section, filled from the table, the rows and the special fields.
    pub fn to_input(&self, client_secret: &str) -> ServiceInput {
        let mut input = json!({ "api_key": {}, "oauth2": { "token_placement": {} } });
        for (field, path) in FIELDS {
            put(&mut input, path, Value::String(self.get(field).to_owned()));
        }
        for (kind, _, names, path) in ROWS {
            let filled = self.rows(kind).iter().filter(|row| !is_blank(row));
            let rows = match *kind {
                "extra" => Value::Object(
                    filled.map(|row| (row[0].clone(), Value::String(row[1].clone()))).collect::<Map<_, _>>(),
                ),
                _ => Value::Array(
                    filled
                        .map(|row| {
                            let cells = names.iter().zip(row).map(|(n, c)| match *n {
                                "allowed" => ((*n).to_owned(), json!(allowed_entries(c))),
                                _ => ((*n).to_owned(), json!(c)),
                            });
                            Value::Object(cells.collect())
                        })
                        .collect(),
                ),
            };
            put(&mut input, path, rows);
        }
        let name =
            if self.get("token_in") == "query" { &self.token_query_name } else { &self.token_header_name };
        put(&mut input, "oauth2.token_placement.name", Value::String(name.clone()));
        put(&mut input, "oauth2.client_secret", Value::String(client_secret.to_owned()));
        put(&mut input, "oauth2.refresh_on_status", json!(statuses(&self.refresh_on_status)));
        for (field, path, _) in SWITCHES {
            put(&mut input, path, json!(self.other(field) != "off"));
        }
        for (field, path) in CODE_LISTS {
            let codes: Vec<&str> =
                self.other(field).split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
            put(&mut input, path, json!(codes));
        }
        // Not a number: a number out of range, which validation refuses with its message.
        let days = self.keep_alive_days.trim();
        put(
            &mut input,
            "oauth2.keep_alive_days",
            json!(if days.is_empty() { 0 } else { days.parse().unwrap_or(u32::MAX) }),
        );
        let mut parsed: ServiceInput = serde_json::from_value(input.clone()).unwrap_or_default();
        // Extra parameters keep the order they were typed in (a JSON object through `Value` would not).
        if let Some(o) = &mut parsed.oauth2 {
            o.extra_auth_params = Some(crate::domain::service_input::ExtraParams(
                self.extra
                    .iter()
                    .filter(|row| !is_blank(row))
                    .map(|row| (row[0].clone(), row[1].clone()))
                    .collect(),
            ));
        }
        parsed
    }
}

/// Sets `path` (`section.field`, dot-separated) in `input`.
fn put(input: &mut Value, path: &str, value: Value) {
    let mut at = input;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            at[part] = value;
            return;
        }
        at = &mut at[part];
    }
}

/// "403, 419" → [403, 419]. Anything that is not a number becomes 0, which validation refuses with
/// its message (rather than vanishing silently).
fn statuses(raw: &str) -> Vec<u16> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(0)).collect()
}

/// A row of `kind` with every column empty.
pub fn blank_row(kind: &str) -> Row {
    let columns = ROWS.iter().find(|(k, ..)| *k == kind).map_or(2, |(_, posted, ..)| posted.len());
    vec![String::new(); columns]
}

/// Columns of posted values into rows, in order; a column posted fewer times leaves its cells empty.
fn zip_rows(columns: Vec<Vec<String>>) -> Vec<Row> {
    let len = columns.iter().map(Vec::len).max().unwrap_or(0);
    let mut columns: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
    (0..len).map(|_| columns.iter_mut().map(|c| c.next().unwrap_or_default()).collect()).collect()
}

mod from_stored;
