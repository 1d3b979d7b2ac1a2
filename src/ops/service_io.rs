//! Exporting and importing service definitions (`domain::service_export`): the pages, the API and
//! the CLI call these. An import checks every service by the API's create rules, and its link name
//! against the database and the rest of the file, before anything is written; then it creates them
//! all in one transaction, or none. An imported OAuth2 service has no client secret: when it needs
//! one, it is marked so that its page asks for it.

use crate::catalogue;
use crate::db::DbConn;
use crate::domain::service::AuthType;
use crate::domain::service_export::{self as file, MAX_SERVICES};
use crate::domain::service_input::{ServiceInput, ValidService, validate_secret_later};
use crate::domain::service_rules;
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::lists::services::{self as listed, ServiceQuery};
use crate::models::audit::{self, Event};
use crate::models::service::{self, ServiceRow};

/// The file of the services `links` (every service when `None`), and how many it holds. A link name
/// that names no service is a 422 naming it.
pub fn export(c: &mut DbConn, links: Option<&[String]>) -> Result<(String, usize), AppError> {
    let rows = match links {
        Some(links) => {
            let rows = listed::named(c, links)?;
            let missing: Vec<&str> = links
                .iter()
                .filter(|l| !rows.iter().any(|r| &r.link_name == *l))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let mut errors = FieldErrors::new();
                push(&mut errors, "link", format!("No service has the link name {}.", missing.join(", ")));
                return Err(AppError::Invalid(errors));
            }
            rows
        }
        None => listed::matching(c, &ServiceQuery::default(), i64::MAX)?,
    };
    let definitions = rows
        .iter()
        .map(|row| {
            let s = row.view()?;
            let mut input = ServiceInput::from(&s);
            input.template = s.template.as_ref().map(|(id, _)| id.clone());
            // A service imported without its secret needs one as much as one that has it.
            Ok(file::definition(input, s.client_secret_set || s.client_secret_pending))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let count = definitions.len();
    Ok((file::document(definitions), count))
}

/// One service of a file, as checked.
pub struct Planned {
    /// Its place in the file, from 1.
    pub number: usize,
    pub link_name: String,
    pub name: String,
    pub auth_type: Option<AuthType>,
    /// It is an OAuth2 service that will ask for its client secret.
    pub secret_pending: bool,
    /// What stops it from being created: (field, message).
    pub problems: Vec<(String, String)>,
    ready: Option<(ValidService, Option<Template>)>,
}

/// The catalogue template a service names: its id and version.
type Template = (String, i32);

/// Every service of a file, as checked.
pub struct Plan {
    pub items: Vec<Planned>,
}

impl Plan {
    /// Nothing stops the import.
    pub fn is_clean(&self) -> bool {
        self.items.iter().all(|i| i.problems.is_empty())
    }

    /// How many services are refused.
    pub fn refused(&self) -> usize {
        self.items.iter().filter(|i| !i.problems.is_empty()).count()
    }

    /// The problems as one list of field errors, `services.<number>.<field>` (the CLI's and the
    /// import's error).
    pub fn errors(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        for item in &self.items {
            for (field, message) in &item.problems {
                push(&mut errors, format!("services.{}.{field}", item.number), message.clone());
            }
        }
        errors
    }
}

/// A file that cannot be read as a whole: a 422 on `file`.
fn unreadable(message: String) -> AppError {
    let mut errors = FieldErrors::new();
    push(&mut errors, "file", message);
    AppError::Invalid(errors)
}

/// Checks a file against the rules and the database as it is on `c`; writes nothing.
pub fn plan(c: &mut DbConn, raw: &str, allow_http: bool) -> Result<Plan, AppError> {
    let definitions = file::services_of(raw).map_err(unreadable)?;
    // Control characters are refused as in any request body (an API create would refuse them).
    crate::input::check_json(raw).map_err(|_| {
        unreadable("The file holds control characters other than line breaks and tabs; remove them.".into())
    })?;
    let mut items: Vec<Planned> = Vec::with_capacity(definitions.len().min(MAX_SERVICES));
    for (i, definition) in definitions.into_iter().enumerate() {
        let label = |key: &str| definition.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let (link_name, name) = (label("link_name"), label("name"));
        let mut item = Planned {
            number: i + 1,
            auth_type: AuthType::parse(&label("auth_type")),
            link_name,
            name,
            secret_pending: false,
            problems: Vec::new(),
            ready: None,
        };
        match check(c, definition, allow_http) {
            Ok((spec, template, pending)) => {
                item.secret_pending = pending;
                let same =
                    |e: &&Planned| e.ready.as_ref().is_some_and(|(s, _)| s.link_name == spec.link_name);
                if let Some(earlier) = items.iter().find(same) {
                    let message = format!("Service {} of this file has this link name too.", earlier.number);
                    item.problems.push(("link_name".into(), message));
                }
                item.ready = Some((spec, template));
            }
            Err(errors) => {
                for (field, messages) in errors {
                    item.problems.extend(messages.into_iter().map(|m| (field.clone(), m)));
                }
            }
        }
        items.push(item);
    }
    Ok(Plan { items })
}

/// One definition through the API's create rules, and its link name against the database.
fn check(
    c: &mut DbConn,
    definition: serde_json::Value,
    allow_http: bool,
) -> Result<(ValidService, Option<Template>, bool), FieldErrors> {
    let (input, pending) = file::input_of(definition)?;
    let fields = |e: AppError| match e {
        AppError::Invalid(errors) => errors,
        other => FieldErrors::from([("service".to_owned(), vec![other.public_message()])]),
    };
    service_rules::check(&input, None).map_err(fields)?;
    let mut errors = FieldErrors::new();
    let template = match input.template.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(id) => match catalogue::find(id) {
            Some(t) => Some((t.id.clone(), t.version)),
            None => {
                push(&mut errors, "template", "There is no template with this id in this Connections.");
                None
            }
        },
    };
    let spec = match validate_secret_later(&input, allow_http) {
        Ok(spec) => spec,
        Err(mut found) => {
            errors.append(&mut found);
            return Err(errors);
        }
    };
    match service::find(c, &spec.link_name) {
        Ok(Some(_)) => push(&mut errors, "link_name", "A service with this link name exists already."),
        Ok(None) => {}
        Err(e) => return Err(fields(e.into())),
    }
    match errors.is_empty() {
        true => Ok((spec, template, pending)),
        false => Err(errors),
    }
}

/// Why an import wrote nothing.
pub enum Refused {
    /// The file as a whole, or the database.
    Error(AppError),
    /// Some services break the rules: the plan says which and why.
    Services(Plan),
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Refused {
        Refused::Error(e.into())
    }
}

impl From<AppError> for Refused {
    fn from(e: AppError) -> Refused {
        Refused::Error(e)
    }
}

/// Who imports: an SDAdmin (`actor_id`), or the CLI (none).
pub struct Importer<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
}

/// Creates every service of the file in one transaction, each with its audit entry, or none when
/// any breaks a rule (checked again inside the transaction, against the database as it is then).
pub fn import(
    c: &mut DbConn,
    raw: &str,
    allow_http: bool,
    by: &Importer,
    now: i64,
) -> Result<Vec<ServiceRow>, Refused> {
    crate::db::write_tx(c, |c| {
        let plan = plan(c, raw, allow_http)?;
        if !plan.is_clean() {
            return Err(Refused::Services(plan));
        }
        let mut created = Vec::with_capacity(plan.items.len());
        for item in plan.items {
            let (Some((spec, template)), pending) = (item.ready, item.secret_pending) else { continue };
            let id = service::insert_without_secret(c, &spec, pending, by.actor, now)?;
            let mut details = serde_json::json!({
                "auth_type": spec.config.auth_type().as_str(), "name": spec.name, "imported": true,
            });
            if let Some((template_id, version)) = &template {
                service::set_template(c, id, template_id, *version)?;
                details["template"] = serde_json::json!(format!("{template_id} v{version}"));
            }
            if pending {
                details["client_secret"] = serde_json::json!("to be entered");
            }
            let event = Event {
                actor_id: by.actor_id,
                actor: by.actor,
                action: "service.create",
                target_type: "service",
                target: &spec.link_name,
                details,
            };
            audit::record(c, event, now)?;
            created.push(service::find_by_id(c, id)?);
        }
        Ok(created)
    })
}
