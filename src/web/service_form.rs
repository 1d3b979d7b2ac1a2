//! The service form's values as the page shows them, and their conversion from the posted fields and
//! into `ServiceInput`. Rows (parameters, scopes, extra parameters) arrive as repeated fields.

use crate::domain::service::{ApiKeyParam, Scope};
use crate::domain::service_input::{ApiKeyInput, ExtraParams, OAuthInput, PlacementInput, ServiceInput};

/// Every field of the form as text, the way the page renders it back.
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    pub name: String,
    pub link_name: String,
    pub description: String,
    pub auth_type: String,
    pub api_base_url: String,
    pub test_request: String,
    /// "403, 419": statuses besides 401 that trigger a refresh.
    pub refresh_on_status: String,
    pub param_type: String,
    pub params: Vec<(String, String)>,
    pub grant_type: String,
    pub client_id: String,
    pub authorization_url: String,
    pub token_url: String,
    pub refresh_url: String,
    pub revoke_url: String,
    pub issuer: String,
    pub client_auth: String,
    pub scope_delimiter: String,
    pub token_in: String,
    pub token_header_name: String,
    pub token_prefix: String,
    pub token_query_name: String,
    pub extra: Vec<(String, String)>,
    pub scopes: Vec<(String, String)>,
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
    /// The values of a new service: API Key in a header with one empty row, OAuth2 defaults filled in.
    pub fn new_service() -> FormValues {
        FormValues {
            auth_type: "api_key".into(),
            param_type: "header".into(),
            params: vec![(String::new(), String::new())],
            grant_type: "authorization_code".into(),
            client_auth: "basic".into(),
            scope_delimiter: " ".into(),
            token_in: "header".into(),
            token_header_name: "Authorization".into(),
            token_prefix: "Bearer".into(),
            token_query_name: "access_token".into(),
            scopes: vec![(String::new(), String::new())],
            ..FormValues::default()
        }
    }

    /// Reads the posted fields; repeated fields pair up in order.
    pub fn from_pairs(pairs: &[(String, String)]) -> Posted {
        let mut v = FormValues::default();
        let (mut client_secret, mut row_edit, mut return_to, mut confirmed) = (String::new(), None, None, false);
        let (mut param_names, mut param_labels, mut extra_keys, mut extra_values, mut scope_names, mut scope_labels) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (key, value) in pairs {
            let value = value.clone();
            match key.as_str() {
                "name" => v.name = value,
                "link_name" => v.link_name = value,
                "description" => v.description = value,
                "auth_type" => v.auth_type = value,
                "api_base_url" => v.api_base_url = value,
                "test_request" => v.test_request = value,
                "refresh_on_status" => v.refresh_on_status = value,
                "param_type" => v.param_type = value,
                "param_name" => param_names.push(value),
                "param_display" => param_labels.push(value),
                "grant_type" => v.grant_type = value,
                "client_id" => v.client_id = value,
                "client_secret" => client_secret = value,
                "authorization_url" => v.authorization_url = value,
                "token_url" => v.token_url = value,
                "refresh_url" => v.refresh_url = value,
                "revoke_url" => v.revoke_url = value,
                "issuer" => v.issuer = value,
                "client_auth" => v.client_auth = value,
                "scope_delimiter" => v.scope_delimiter = value,
                "token_in" => v.token_in = value,
                "token_header_name" => v.token_header_name = value,
                "token_prefix" => v.token_prefix = value,
                "token_query_name" => v.token_query_name = value,
                "extra_key" => extra_keys.push(value),
                "extra_value" => extra_values.push(value),
                "scope" => scope_names.push(value),
                "scope_display" => scope_labels.push(value),
                "add_row" => row_edit = Some(RowEdit::Add(value)),
                "remove_row" => {
                    row_edit = value.split_once(':').and_then(|(kind, i)| Some(RowEdit::Remove(kind.to_owned(), i.parse().ok()?)))
                }
                "return_to" => return_to = Some(value),
                "confirm_reconnects" => confirmed = value == "yes",
                _ => {}
            }
        }
        v.params = zip_rows(param_names, param_labels);
        v.extra = zip_rows(extra_keys, extra_values);
        v.scopes = zip_rows(scope_names, scope_labels);
        Posted { values: v, client_secret, row_edit, return_to, confirmed }
    }

    /// Applies a no-JS row button press.
    pub fn edit_rows(&mut self, edit: &RowEdit) {
        let target = match edit {
            RowEdit::Add(kind) | RowEdit::Remove(kind, _) => match kind.as_str() {
                "params" => &mut self.params,
                "extra" => &mut self.extra,
                "scopes" => &mut self.scopes,
                _ => return,
            },
        };
        match edit {
            RowEdit::Add(_) => target.push((String::new(), String::new())),
            RowEdit::Remove(_, i) if *i < target.len() => {
                target.remove(*i);
            }
            RowEdit::Remove(..) => {}
        }
    }

    /// Drops rows left empty (an unused "+"): row errors count filled rows only, so the re-rendered
    /// form must show the same rows for each message to land on its own row.
    pub fn drop_blank_rows(&mut self) {
        for rows in [&mut self.params, &mut self.extra, &mut self.scopes] {
            rows.retain(|(x, y)| !x.trim().is_empty() || !y.trim().is_empty());
        }
    }

    /// The input to validate.
    pub fn to_input(&self, client_secret: &str) -> ServiceInput {
        ServiceInput {
            name: Some(self.name.clone()),
            link_name: Some(self.link_name.clone()),
            description: Some(self.description.clone()),
            auth_type: Some(self.auth_type.clone()),
            api_base_url: Some(self.api_base_url.clone()),
            test_request: Some(self.test_request.clone()),
            api_key: Some(ApiKeyInput {
                param_type: Some(self.param_type.clone()),
                params: Some(filled(&self.params).map(|(n, d)| ApiKeyParam { name: n.clone(), display_name: d.clone() }).collect()),
            }),
            oauth2: Some(OAuthInput {
                grant_type: Some(self.grant_type.clone()),
                client_id: Some(self.client_id.clone()),
                client_secret: Some(client_secret.to_owned()),
                authorization_url: Some(self.authorization_url.clone()),
                token_url: Some(self.token_url.clone()),
                refresh_url: Some(self.refresh_url.clone()),
                revoke_url: Some(self.revoke_url.clone()),
                issuer: Some(self.issuer.clone()),
                client_auth: Some(self.client_auth.clone()),
                scope_delimiter: Some(self.scope_delimiter.clone()),
                token_placement: Some(PlacementInput {
                    location: Some(self.token_in.clone()),
                    name: Some(if self.token_in == "query" { self.token_query_name.clone() } else { self.token_header_name.clone() }),
                    prefix: Some(self.token_prefix.clone()),
                }),
                extra_auth_params: Some(ExtraParams(filled(&self.extra).cloned().collect())),
                scopes: Some(filled(&self.scopes).map(|(s, d)| Scope { scope: s.clone(), display_name: d.clone() }).collect()),
                refresh_on_status: Some(statuses(&self.refresh_on_status)),
            }),
        }
    }
}

/// "403, 419" → [403, 419]. Anything that is not a number becomes 0, which validation refuses with
/// its message (rather than vanishing silently).
fn statuses(raw: &str) -> Vec<u16> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(0)).collect()
}

fn zip_rows(a: Vec<String>, b: Vec<String>) -> Vec<(String, String)> {
    let len = a.len().max(b.len());
    let mut a = a.into_iter();
    let mut b = b.into_iter();
    (0..len).map(|_| (a.next().unwrap_or_default(), b.next().unwrap_or_default())).collect()
}

/// Rows with something in them (a blank row is an unused "+", not an error).
fn filled(rows: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
    rows.iter().filter(|(x, y)| !x.trim().is_empty() || !y.trim().is_empty())
}

impl From<&ServiceInput> for FormValues {
    /// A stored service's values for the edit form (the secret is never among them).
    fn from(input: &ServiceInput) -> FormValues {
        let mut v = FormValues::new_service();
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        v.name = s(&input.name);
        v.link_name = s(&input.link_name);
        v.description = s(&input.description);
        v.auth_type = s(&input.auth_type);
        v.api_base_url = s(&input.api_base_url);
        v.test_request = s(&input.test_request);
        if let Some(o) = &input.oauth2 {
            v.refresh_on_status = o.refresh_on_status.iter().flatten().map(u16::to_string).collect::<Vec<_>>().join(", ");
        }
        if let Some(k) = &input.api_key {
            v.param_type = s(&k.param_type);
            v.params = k.params.iter().flatten().map(|p| (p.name.clone(), p.display_name.clone())).collect();
        }
        if let Some(o) = &input.oauth2 {
            v.grant_type = s(&o.grant_type);
            v.client_id = s(&o.client_id);
            v.authorization_url = s(&o.authorization_url);
            v.token_url = s(&o.token_url);
            v.refresh_url = s(&o.refresh_url);
            v.revoke_url = s(&o.revoke_url);
            v.issuer = s(&o.issuer);
            v.client_auth = s(&o.client_auth);
            v.scope_delimiter = s(&o.scope_delimiter);
            if let Some(p) = &o.token_placement {
                v.token_in = s(&p.location);
                if v.token_in == "query" {
                    v.token_query_name = s(&p.name);
                } else {
                    v.token_header_name = s(&p.name);
                    v.token_prefix = s(&p.prefix);
                }
            }
            v.extra = o.extra_auth_params.iter().flat_map(|p| p.0.iter().cloned()).collect();
            v.scopes = o.scopes.iter().flatten().map(|x| (x.scope.clone(), x.display_name.clone())).collect();
        }
        v
    }
}
