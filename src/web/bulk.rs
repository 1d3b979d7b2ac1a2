//! Bulk actions on connections from the lists (My/All Connections, a service's connections): the
//! list's form names what is picked — the rows ticked, the whole page, or every connection matching
//! the filter — and the action; a confirmation then says exactly what will happen to which
//! connections (it carries their link names, so the action runs on exactly those); the outcome
//! page, the answer to the run, lists what was done and what failed, with why. The pages shared
//! with the services' bulk actions (`service_bulk`) live here too.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::csrf::CsrfForm;
use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::lists::connections as list;
use crate::models::service as services;
use crate::ops::bulk::{self, Action, ItemOutcome, ItemResult, Outcome};
use crate::state::AppState;
use crate::web::list_params::ListParams;
use crate::web::{Layout, local_path, render_status};

/// A confirmation names at most this many items; it says how many more there are.
pub const SHOWN: usize = 50;

/// One item a confirmation names.
pub struct Item {
    pub link_name: String,
    pub name: String,
    /// What is particular about it ("used by 3 connections: it stays").
    pub note: Option<String>,
}

/// The confirmation before a bulk action.
#[derive(Template)]
#[template(path = "bulk/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub explanation: String,
    pub items: Vec<Item>,
    /// Where the confirmed form goes, and the action it carries.
    pub post_to: String,
    pub action: &'static str,
    pub button: String,
    pub back: String,
    /// A transfer's choice of new owner: the candidates and the one chosen.
    pub transfer: Option<(Vec<String>, String)>,
    /// The form carries the items' link names (the emergency revoke acts on the service instead).
    pub carries_links: bool,
    pub error: Option<String>,
}

/// The outcome of a bulk action: the answer to its request, kept nowhere else.
#[derive(Template)]
#[template(path = "bulk/outcome.html")]
pub struct OutcomePage {
    pub layout: Layout,
    pub heading: String,
    pub items: Vec<ItemOutcome>,
    pub done: usize,
    pub provider_failed: usize,
    pub failed: usize,
    pub back: String,
}

impl OutcomePage {
    pub fn new(layout: Layout, heading: String, outcome: Outcome, back: String) -> OutcomePage {
        OutcomePage {
            layout,
            heading,
            done: outcome.count(ItemResult::Done),
            provider_failed: outcome.count(ItemResult::ProviderFailed),
            failed: outcome.count(ItemResult::Failed),
            items: outcome.items,
            back,
        }
    }
}

/// What a bulk form sends: its fields by name.
pub struct Sent(pub Vec<(String, String)>);

impl Sent {
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// The list's filters, as its URL carries them (the first of each).
    pub fn params(&self) -> ListParams {
        let field = |name: &str| self.one(name).unwrap_or_default().to_owned();
        ListParams {
            q: field("q"),
            service: field("service"),
            status: field("status"),
            auth_type: field("auth_type"),
            owner: field("owner"),
            sort: field("sort"),
            page: None,
            per_page: None,
        }
        .normalised()
    }

    /// Where Cancel and Back go: the list the form came from.
    pub fn back(&self, fallback: &str) -> String {
        local_path(Some(self.one("back").filter(|b| !b.is_empty()).unwrap_or(fallback))).into_owned()
    }

    /// What is picked: every match of the filter, the page's rows, or the rows ticked.
    pub fn scope(&self) -> &'static str {
        match self.all("scope") {
            s if s.iter().any(|v| v == "filter") => "filter",
            s if s.iter().any(|v| v == "page") => "page",
            _ => "rows",
        }
    }

    /// The link names picked on the page (not by filter).
    pub fn picked_rows(&self) -> Vec<String> {
        self.all(if self.scope() == "page" { "page_link" } else { "link" })
    }
}

/// A refused bulk form: the confirmation page, saying why, with 422.
pub fn refused(req: &HttpRequest, mut page: ConfirmPage, why: String) -> Result<HttpResponse, AppError> {
    page.error = Some(why);
    render_status(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The connections a list's bulk form picked, with their names, in the list's order.
async fn picked(state: &AppState, sent: &Sent, viewer: i64) -> Result<Vec<Item>, AppError> {
    let found = if sent.scope() == "filter" {
        let params = sent.params();
        let link = params.service.clone();
        let service_id = match link.as_str() {
            "" => None,
            _ => Some(state.db.read(move |c| Ok(services::find(c, &link)?)).await?.map_or(-1, |s| s.id)),
        };
        bulk::matching(state, params.connection_query(viewer, service_id, state.clock.now())).await?
    } else {
        let links = sent.picked_rows();
        let lookup = links.clone();
        let found = state.db.read(move |c| Ok(list::names_of(c, &lookup)?)).await?;
        links.iter().filter_map(|l| found.iter().find(|(f, _)| f == l).cloned()).collect()
    };
    Ok(found.into_iter().map(|(link_name, name)| Item { link_name, name, note: None }).collect())
}

/// The words of a connection action's confirmation.
fn wording(action: &Action, n: usize) -> (String, String, String) {
    let many = if n == 1 { "1 connection".to_owned() } else { format!("{n} connections") };
    match action {
        Action::Revoke => (
            format!("Revoke {many}?"),
            "Each connection's tokens are revoked at its provider when the service has a revoke URL, and \
             its stored credentials are deleted whatever the provider answers: it becomes Disconnected. \
             Scripts using it stop working until its owner connects it again."
                .into(),
            format!("Revoke {many}"),
        ),
        Action::Delete => (
            format!("Delete {many}?"),
            "Each connection is revoked as a revoke does it, then deleted with its credentials; its link \
             name becomes free. Scripts using it stop working. This cannot be undone."
                .into(),
            format!("Delete {many}"),
        ),
        Action::Transfer(_) => (
            format!("Transfer {many}?"),
            "Each connection gets the new owner chosen below, who may then edit and reconnect it; its \
             former owner no longer can. Their stored credentials stay, so scripts keep working until the \
             new owner reconnects. Consents in progress end."
                .into(),
            format!("Transfer {many}"),
        ),
    }
}

async fn confirm_page(
    req: &HttpRequest,
    admin: &Admin,
    state: &AppState,
    action: &Action,
    items: Vec<Item>,
    back: String,
) -> Result<ConfirmPage, AppError> {
    let (heading, explanation, button) = wording(action, items.len());
    let transfer = match action {
        Action::Transfer(to) => Some((crate::ops::transfer::candidates(state).await?, to.clone())),
        _ => None,
    };
    Ok(ConfirmPage {
        layout: Layout::new(req, Some(&admin.0), "connections"),
        heading,
        explanation,
        items,
        post_to: "/admin/connections/bulk/run".into(),
        action: action.as_str(),
        button,
        back,
        transfer,
        carries_links: true,
        error: None,
    })
}

/// The action the form's button named (the buttons name only these three).
fn action_of(sent: &Sent) -> Result<Action, AppError> {
    Action::parse(sent.one("action").unwrap_or_default(), sent.one("to"))
        .ok_or_else(|| AppError::BadRequest("Choose revoke, delete or transfer.".into()))
}

/// The list's bulk form: the confirmation of what was picked.
pub async fn confirm_connections(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let sent = Sent(form.form);
    let action = action_of(&sent)?;
    let back = sent.back("/admin/connections");
    let items = match picked(&state, &sent, admin.user().id).await {
        Ok(items) => items,
        Err(AppError::Invalid(fields)) => {
            let page = confirm_page(&req, &admin, &state, &action, Vec::new(), back).await?;
            return refused(&req, page, fields.into_values().flatten().collect::<Vec<_>>().join(" "));
        }
        Err(e) => return Err(e),
    };
    let empty = items.is_empty();
    let page = confirm_page(&req, &admin, &state, &action, items, back).await?;
    if empty {
        return refused(
            &req,
            page,
            "Nothing is selected: tick the connections to act on, or “all matching”.".into(),
        );
    }
    render_status(&req, StatusCode::OK, &page)
}

/// The confirmed action, on exactly the connections the confirmation named.
pub async fn run_connections(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let sent = Sent(form.form);
    let action = action_of(&sent)?;
    let (links, back) = (sent.all("link"), sent.back("/admin/connections"));
    if links.is_empty() || links.len() > bulk::MAX_ITEMS {
        return Err(AppError::BadRequest("The confirmation names no connection, or too many.".into()));
    }
    match bulk::connections(&state, admin.user(), &action, links.clone()).await {
        Ok(outcome) => {
            let (heading, _, _) = wording(&action, outcome.items.len());
            let heading = heading.trim_end_matches('?').to_owned();
            let layout = Layout::new(&req, Some(&admin.0), "connections");
            render_status(&req, StatusCode::OK, &OutcomePage::new(layout, heading, outcome, back))
        }
        Err(AppError::Invalid(fields)) => {
            let lookup = links.clone();
            let found = state.db.read(move |c| Ok(list::names_of(c, &lookup)?)).await?;
            let items = links
                .into_iter()
                .map(|l| {
                    let name =
                        found.iter().find(|(f, _)| *f == l).map_or_else(|| l.clone(), |(_, n)| n.clone());
                    Item { link_name: l, name, note: None }
                })
                .collect();
            let page = confirm_page(&req, &admin, &state, &action, items, back).await?;
            refused(&req, page, fields.into_values().flatten().collect::<Vec<_>>().join(" "))
        }
        Err(e) => Err(e),
    }
}
