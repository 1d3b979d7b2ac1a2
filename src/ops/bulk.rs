//! Actions over many items at once: revoke, delete or transfer connections, delete services, and
//! the emergency revoke of every connection of a service. Each item goes through the one-item
//! operation (`ops::connections::revoke`, `delete`, `ops::transfer::transfer`,
//! `ops::services::delete`), so an item follows the same rules and gets the same audit entry and
//! alerts as when it is done alone. Items run a few at a time; one that fails stops none of the
//! others, and the outcome says for each what happened and, when it failed, why. Nothing is kept of
//! an outcome but what the operations record: it is the answer to the request that ran it.

use std::future::Future;

use actix_web::web::Data;
use serde::Serialize;
use tracing::Instrument;

use crate::error::AppError;
use crate::lists::connections::{self as list, ConnectionQuery};
use crate::models::audit::{self, Event};
use crate::models::connection as connections;
use crate::models::user::User;
use crate::ops::connections::{self as one, Revoked};
use crate::ops::{services, transfer};
use crate::state::AppState;

/// At most this many items in one bulk action: a confirmation can then name every one, and a
/// request ends in reasonable time. The emergency revoke of a service has no limit.
pub const MAX_ITEMS: usize = 1000;

/// How many items run at the same time (each may wait on a provider's revoke endpoint).
const AT_ONCE: usize = 4;

/// What a bulk action over connections does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Revoke,
    Delete,
    /// To the SDAdmin with this username.
    Transfer(String),
}

impl Action {
    /// `revoke`, `delete` or `transfer` (which needs `to`); `None` for anything else.
    pub fn parse(raw: &str, to: Option<&str>) -> Option<Action> {
        match raw {
            "revoke" => Some(Action::Revoke),
            "delete" => Some(Action::Delete),
            "transfer" => Some(Action::Transfer(to.unwrap_or_default().to_owned())),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Revoke => "revoke",
            Action::Delete => "delete",
            Action::Transfer(_) => "transfer",
        }
    }
}

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Done,
    /// Revoked (or deleted) here, but the provider's revoke endpoint failed: the tokens may live on
    /// at the provider until they expire.
    ProviderFailed,
    /// Nothing was done to this item; the message says why.
    Failed,
}

/// One item's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ItemOutcome {
    pub link_name: String,
    /// Its display name, when it existed.
    pub name: Option<String>,
    pub result: ItemResult,
    pub message: String,
}

/// A bulk action's outcome, item by item in the order they were given.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub items: Vec<ItemOutcome>,
}

impl Outcome {
    pub fn count(&self, result: ItemResult) -> usize {
        self.items.iter().filter(|i| i.result == result).count()
    }

    pub fn failed(&self) -> impl Iterator<Item = &ItemOutcome> {
        self.items.iter().filter(|i| i.result != ItemResult::Done)
    }
}

/// What a person reads of an item's error: every message of a refused input, or the error's own.
pub fn reason(e: &AppError) -> String {
    match e {
        AppError::Invalid(fields) => fields.values().flatten().cloned().collect::<Vec<_>>().join(" "),
        AppError::NotFound | AppError::Db(diesel::result::Error::NotFound) => {
            "Nothing has this link name (any more).".to_owned()
        }
        other => other.public_message(),
    }
}

fn revoked(link: String, done: Result<Revoked, AppError>) -> ItemOutcome {
    let (result, message) = match done {
        Ok(r) if r.provider_failed => (ItemResult::ProviderFailed, r.outcome),
        Ok(r) => (ItemResult::Done, r.outcome),
        Err(e) => (ItemResult::Failed, reason(&e)),
    };
    ItemOutcome { link_name: link, name: None, result, message }
}

/// Runs `one` for every item, `AT_ONCE` at a time on this worker's thread, and gives the outcomes
/// in the items' order. Each item's work runs in the request's span (its log lines keep the id).
async fn each<F, Fut>(items: Vec<String>, one: F) -> Result<Vec<ItemOutcome>, AppError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ItemOutcome> + 'static,
{
    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; items.len()];
    let mut running = tokio::task::JoinSet::new();
    let mut finished = |done: Option<Result<(usize, ItemOutcome), tokio::task::JoinError>>| match done {
        Some(Ok((i, outcome))) => {
            outcomes[i] = Some(outcome);
            Ok(())
        }
        Some(Err(e)) => Err(AppError::Internal(format!("a bulk item stopped: {e}"))),
        None => Ok(()),
    };
    for (i, item) in items.into_iter().enumerate() {
        if running.len() >= AT_ONCE {
            finished(running.join_next().await)?;
        }
        let work = one(item);
        running.spawn_local(async move { (i, work.await) }.instrument(tracing::Span::current()));
    }
    while let Some(done) = running.join_next().await {
        finished(Some(done))?;
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Each link once, in the order given.
fn distinct(links: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    links.into_iter().filter(|l| seen.insert(l.clone())).collect()
}

/// Runs `action` on the connections `links` (at most `MAX_ITEMS`). A transfer's new owner is
/// checked first: one that may not own connections refuses the whole action (422).
pub async fn connections(
    state: &Data<AppState>,
    actor: &User,
    action: &Action,
    links: Vec<String>,
) -> Result<Outcome, AppError> {
    let links = distinct(links);
    if let Action::Transfer(to) = action {
        let to = to.clone();
        state.db.read(move |c| transfer::new_owner(c, &to).map(drop)).await?;
    }
    let names = names_of(state, &links).await?;
    let mut items = each(links, |link| {
        let (state, actor, action) = (state.clone(), actor.clone(), action.clone());
        async move {
            match &action {
                Action::Revoke => revoked(link.clone(), one::revoke(&state, &actor, &link).await),
                Action::Delete => revoked(link.clone(), one::delete(&state, &actor, &link).await),
                Action::Transfer(to) => {
                    let (result, message) = match transfer::transfer(&state, &actor, &link, to).await {
                        Ok(view) => (ItemResult::Done, format!("Now owned by {}.", view.owner)),
                        Err(e) => (ItemResult::Failed, reason(&e)),
                    };
                    ItemOutcome { link_name: link, name: None, result, message }
                }
            }
        }
    })
    .await?;
    for item in &mut items {
        item.name = names.iter().find(|(l, _)| *l == item.link_name).map(|(_, n)| n.clone());
    }
    Ok(Outcome { items })
}

async fn names_of(state: &AppState, links: &[String]) -> Result<Vec<(String, String)>, AppError> {
    let links = links.to_vec();
    state.db.read(move |c| Ok(list::names_of(c, &links)?)).await
}

/// The connections matching `query`'s filters, as (link name, name), by name; more than
/// `MAX_ITEMS` is a 422 that asks for a narrower filter.
pub async fn matching(state: &AppState, query: ConnectionQuery) -> Result<Vec<(String, String)>, AppError> {
    let found = state.db.read(move |c| Ok(list::matching(c, &query, MAX_ITEMS as i64 + 1)?)).await?;
    if found.len() > MAX_ITEMS {
        return Err(crate::ops::connections::invalid(
            "filter",
            format!("More than {MAX_ITEMS} connections match: narrow the filter, or act in several steps."),
        ));
    }
    Ok(found)
}

/// The emergency revoke: every connection of service `service_link`, whatever their number, each
/// revoked at the provider when it can and here always. Audited as one entry besides each revoke's.
pub async fn revoke_all(
    state: &Data<AppState>,
    actor: &User,
    service_link: &str,
) -> Result<Outcome, AppError> {
    let service = services::load(state, service_link).await?;
    let id = service.id;
    let found = state.db.read(move |c| Ok(connections::names_for_service(c, id)?)).await?;
    let links: Vec<String> = found.iter().map(|(link, _)| link.clone()).collect();
    let outcome = connections(state, actor, &Action::Revoke, links).await?;
    let (actor_row, link, now) = (actor.clone(), service.link_name.clone(), state.clock.now());
    let details = serde_json::json!({
        "connections": outcome.items.len(),
        "provider_failed": outcome.count(ItemResult::ProviderFailed),
        "failed": outcome.count(ItemResult::Failed),
    });
    state
        .db
        .run(move |c| {
            let event = Event {
                actor_id: Some(actor_row.id),
                actor: &actor_row.username,
                action: "service.revoke_all",
                target_type: "service",
                target: &link,
                details,
            };
            Ok(audit::record(c, event, now)?)
        })
        .await?;
    Ok(outcome)
}

/// Deletes the services `links`: each one no connection uses; the others are reported with the
/// connections that keep them.
pub async fn delete_services(
    state: &Data<AppState>,
    actor: &User,
    links: Vec<String>,
) -> Result<Outcome, AppError> {
    let links = distinct(links);
    let rows = {
        let links = links.clone();
        state.db.read(move |c| Ok(crate::lists::services::named(c, &links)?)).await?
    };
    let items = each(links, |link| {
        let (state, actor) = (state.clone(), actor.clone());
        let name = rows.iter().find(|r| r.link_name == link).map(|r| r.name.clone());
        async move {
            let (result, message) = match services::delete(&state, &actor, &link).await {
                Ok(()) => (ItemResult::Done, "Deleted.".to_owned()),
                Err(e) => (ItemResult::Failed, reason(&e)),
            };
            ItemOutcome { link_name: link, name, result, message }
        }
    })
    .await?;
    Ok(Outcome { items })
}
