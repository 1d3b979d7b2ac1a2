//! A stored service's values for the edit form: the input it reads back into, as the form shows
//! each field (the secret is never among them).

use serde_json::Value;

use super::{FIELDS, FormValues};
use crate::domain::service_input::ServiceInput;

impl From<&ServiceInput> for FormValues {
    /// A stored service's values for the edit form (the secret is never among them).
    fn from(input: &ServiceInput) -> FormValues {
        let mut v = FormValues::new_service();
        let json = serde_json::to_value(input).unwrap_or_default();
        for (field, path) in FIELDS {
            if let Some(value) =
                path.split('.').try_fold(&json, |at, part| at.get(part)).and_then(Value::as_str)
            {
                v.set(field, value.to_owned());
            }
        }
        v.vars = input
            .connection_variables
            .iter()
            .flatten()
            .map(|x| vec![x.name.clone(), x.display_name.clone()])
            .collect();
        if let Some(k) = &input.api_key {
            v.params = k
                .params
                .iter()
                .flatten()
                .map(|p| vec![p.name.clone(), p.display_name.clone(), p.value_prefix.clone()])
                .collect();
        }
        if let Some(o) = &input.oauth2 {
            v.refresh_on_status =
                o.refresh_on_status.iter().flatten().map(u16::to_string).collect::<Vec<_>>().join(", ");
            for (field, value) in [("pkce", o.pkce), ("scope_on_refresh", o.scope_on_refresh)] {
                if let Some(on) = value {
                    v.set(field, (if on { "on" } else { "off" }).to_owned());
                }
            }
            for (field, codes) in [
                ("dead_grant_errors", &o.dead_grant_errors),
                ("client_refused_errors", &o.client_refused_errors),
            ] {
                v.set(field, codes.iter().flatten().cloned().collect::<Vec<_>>().join(", "));
            }
            v.keep_alive_days =
                o.keep_alive_days.filter(|d| *d > 0).map(|d| d.to_string()).unwrap_or_default();
            if let Some(p) = &o.token_placement {
                let name = p.name.clone().unwrap_or_default();
                if p.location.as_deref() == Some("query") {
                    v.token_query_name = name
                } else {
                    v.token_header_name = name
                }
            }
            v.extra = o
                .extra_auth_params
                .iter()
                .flat_map(|p| p.0.iter().map(|(k, v)| vec![k.clone(), v.clone()]))
                .collect();
            v.scopes =
                o.scopes.iter().flatten().map(|x| vec![x.scope.clone(), x.display_name.clone()]).collect();
            v.captures = o
                .captured_values
                .iter()
                .flatten()
                .map(|c| {
                    let text = |f: &Option<String>| f.clone().unwrap_or_default();
                    let allowed = c.allowed.iter().flatten().cloned().collect::<Vec<_>>().join("\n");
                    vec![
                        text(&c.name),
                        text(&c.display_name),
                        text(&c.source),
                        text(&c.key),
                        text(&c.kind),
                        allowed,
                    ]
                })
                .collect();
        }
        v
    }
}
