//! The service templates: one JSON file per provider in `catalogue/`, embedded at build time
//! (`build.rs`). Picking one pre-fills the Create Service form with everything the provider's
//! documentation prescribes, so the admin enters only the client id and secret (or nothing, for API
//! key and Basic services); the service remembers the template and version it came from.
//!
//! A template's `service` is a service exactly as `POST /api/v1/services` takes it, without the
//! client id and secret: the same validation checks it (`check`, run by a test on every file).

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::service_input::ServiceInput;

/// Every file of the catalogue folder: (file name, content).
const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// One provider's template.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The file's name without `.json`; what a service records.
    pub id: String,
    /// Raised whenever the settings change, so a service shows which edition it started from.
    pub version: i32,
    pub name: String,
    pub category: String,
    /// The provider documentation the settings follow.
    pub docs: Vec<String>,
    /// Setup steps shown when the template is picked; `{callback_url}` stands for this portal's.
    pub setup: Vec<String>,
    /// The service as `POST /api/v1/services` takes it, without client id and secret.
    pub service: Value,
}

impl Template {
    /// The service input the form starts from.
    pub fn input(&self) -> ServiceInput {
        serde_json::from_value(self.service.clone()).unwrap_or_default()
    }

    pub fn auth_type(&self) -> &str {
        self.service["auth_type"].as_str().unwrap_or("")
    }

    /// "API Key", "Basic", "OAuth2".
    pub fn auth_label(&self) -> &'static str {
        match self.auth_type() {
            "api_key" => "API Key",
            "basic" => "Basic",
            _ => "OAuth2",
        }
    }

    /// Up to two letters for the catalogue's tile: the first of the first two words that start with one.
    pub fn initials(&self) -> String {
        self.name
            .split_whitespace()
            .filter_map(|w| w.chars().next().filter(|c| c.is_alphanumeric()))
            .take(2)
            .collect::<String>()
            .to_uppercase()
    }

    /// The setup steps with this portal's callback URL in place.
    pub fn setup_steps(&self, callback_url: &str) -> Vec<String> {
        self.setup.iter().map(|step| step.replace("{callback_url}", callback_url)).collect()
    }

    /// Whether a search (lower-case) finds it by name, category, id or authentication type.
    pub fn matches(&self, needle: &str) -> bool {
        [self.name.as_str(), self.category.as_str(), self.id.as_str(), self.auth_label()]
            .iter()
            .any(|field| field.to_lowercase().contains(needle))
    }
}

/// Every template that reads, by name. A file that does not is left out and logged (the catalogue
/// test makes sure none ships).
pub fn all() -> &'static [Template] {
    static ALL: OnceLock<Vec<Template>> = OnceLock::new();
    ALL.get_or_init(|| {
        let (templates, problems) = load(FILES);
        for problem in problems {
            tracing::error!("service template left out: {problem}");
        }
        templates
    })
}

pub fn find(id: &str) -> Option<&'static Template> {
    all().iter().find(|t| t.id == id)
}

/// The templates a search finds (all for a blank one), by name.
pub fn search(needle: &str) -> Vec<&'static Template> {
    let needle = needle.trim().to_lowercase();
    all().iter().filter(|t| t.matches(&needle)).collect()
}

/// Parses `files` into templates sorted by name, and says what is wrong with those it leaves out:
/// unreadable JSON, an id that is not the file's name, a duplicate id or link name, documentation
/// that is not an https URL, a client id or secret in the settings.
pub fn load(files: &[(&str, &str)]) -> (Vec<Template>, Vec<String>) {
    let (mut templates, mut problems) = (Vec::new(), Vec::new());
    let (mut ids, mut links) = (HashSet::new(), HashSet::new());
    for (file, text) in files {
        let template: Template = match serde_json::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{file}: not a template: {e}"));
                continue;
            }
        };
        let link = template.service["link_name"].as_str().unwrap_or("").to_owned();
        let problem = if file.strip_suffix(".json") != Some(template.id.as_str()) {
            Some(format!("its id {:?} is not its file's name", template.id))
        } else if !ids.insert(template.id.clone()) {
            Some("another template has its id".to_owned())
        } else if link.is_empty() || !links.insert(link.clone()) {
            Some(format!("its link name {link:?} is missing or another template's"))
        } else if template.docs.is_empty() || !template.docs.iter().all(|d| is_https_url(d)) {
            Some("it must cite its documentation with https URLs".to_owned())
        } else if ["client_id", "client_secret"].iter().any(|k| !template.service["oauth2"][k].is_null()) {
            Some("a template never holds a client id or secret".to_owned())
        } else if template.name.trim().is_empty() || template.category.trim().is_empty() {
            Some("it needs a name and a category".to_owned())
        } else {
            None
        };
        match problem {
            Some(p) => problems.push(format!("{file}: {p}")),
            None => templates.push(template),
        }
    }
    templates.sort_by_key(|t| t.name.to_lowercase());
    (templates, problems)
}

fn is_https_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
}

/// The embedded files, for the catalogue test.
pub fn files() -> &'static [(&'static str, &'static str)] {
    FILES
}

#[cfg(test)]
mod tests;
