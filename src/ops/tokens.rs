//! API tokens, as the pages, the JSON API and the CLI create and revoke them: validate, store the
//! hash (the token itself is returned once and kept nowhere), audit.

use crate::auth::actor::Actor;
use crate::crypto::Secret;
use crate::db::DbConn;
use crate::domain::validate::push;
use crate::error::{AppError, FieldErrors};
use crate::models::api_token::{self, NewToken, Scope};
use crate::models::audit::{self, By};
use crate::models::connection;
use crate::models::user::User;
use crate::random::{new_api_token, sha256_hex};
use crate::state::AppState;

/// The expiry a token gets unless another is chosen.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
/// The longest expiry in days (and the furthest custom date), about ten years.
pub const MAX_EXPIRY_DAYS: i64 = 3650;
/// The most connections one token may be restricted to.
pub const MAX_RESTRICTED: usize = 100;
const MAX_LABEL: usize = 100;
const DAY: i64 = 86_400;

/// When a new token stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// This many days from now.
    Days(i64),
    /// At this time (unix seconds), a custom date.
    At(i64),
    /// Never: only when chosen explicitly.
    Never,
}

impl Default for Expiry {
    fn default() -> Expiry {
        Expiry::Days(DEFAULT_EXPIRY_DAYS)
    }
}

/// What a user asks for. `connections`: `None` for an unrestricted token, else the link names it
/// may invoke (at least one).
#[derive(Debug, Clone, Default)]
pub struct TokenInput {
    pub label: String,
    pub expiry: Expiry,
    pub connections: Option<Vec<String>>,
}

/// A token just created: the only time `token` exists outside the caller's hands.
#[derive(Debug)]
pub struct Created {
    pub id: i64,
    pub token: Secret,
    pub listed: api_token::Listed,
}

/// The label and expiry time of `input`, or what is wrong with them.
fn check(input: &TokenInput, now: i64, errors: &mut FieldErrors) -> (String, Option<i64>) {
    let label = crate::domain::validate::display_name(&input.label, MAX_LABEL).unwrap_or_else(|message| {
        push(errors, "label", message);
        String::new()
    });
    let expires_at = match input.expiry {
        Expiry::Never => None,
        Expiry::Days(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => Some(now + days * DAY),
        Expiry::Days(_) => {
            push(errors, "expires_in_days", format!("Choose between 1 and {MAX_EXPIRY_DAYS} days."));
            None
        }
        Expiry::At(at) if at > now && at <= now + MAX_EXPIRY_DAYS * DAY => Some(at),
        Expiry::At(_) => {
            push(errors, "expires_at", "Choose a date in the future, at most ten years ahead.");
            None
        }
    };
    if let Some(links) = &input.connections {
        if links.is_empty() {
            push(errors, "connections", "Choose at least one connection, or no restriction.");
        } else if links.len() > MAX_RESTRICTED {
            push(errors, "connections", format!("Choose at most {MAX_RESTRICTED} connections."));
        }
    }
    (label, expires_at)
}

/// The ids of the restriction's connections, each named once; unknown link names are field errors.
fn resolve(conn: &mut DbConn, links: &[String], errors: &mut FieldErrors) -> Result<Vec<i64>, AppError> {
    let mut ids = Vec::with_capacity(links.len());
    for link in links {
        let link = link.trim();
        let found = match crate::domain::validate::link_name(link) {
            Ok(link) => connection::find(conn, &link)?,
            Err(_) => None,
        };
        match found {
            Some(row) if !ids.contains(&row.id) => ids.push(row.id),
            Some(_) => {}
            None => push(errors, "connections", format!("There is no connection with the link name {link}.")),
        }
    }
    Ok(ids)
}

/// Creates a token for `owner` on this connection, recorded as made `by` them or the CLI (the CLI's
/// way in; the app's is `create`).
pub fn create_in(
    conn: &mut DbConn,
    by: By<'_>,
    owner: &User,
    input: &TokenInput,
    now: i64,
) -> Result<Created, AppError> {
    let mut errors = FieldErrors::new();
    let (label, expires_at) = check(input, now, &mut errors);
    let restrict_to = match &input.connections {
        Some(links) if links.len() <= MAX_RESTRICTED => Some(resolve(conn, links, &mut errors)?),
        _ => None,
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let (token, prefix) = new_api_token()?;
    let token = Secret::new(token);
    let new = NewToken {
        user_id: owner.id,
        label: &label,
        token_hash: &sha256_hex(token.expose()),
        prefix: &prefix,
        expires_at,
        restrict_to: restrict_to.as_deref(),
    };
    crate::db::write_tx(conn, |c| {
        let id = api_token::insert(c, &new, now)?;
        let listed = api_token::find(c, id)?.ok_or(AppError::NotFound)?;
        let restricted_to = match &listed.scope {
            Scope::Everything => None,
            Scope::InvokeOnly(allowed) => Some(allowed.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>()),
        };
        let details = serde_json::json!({
            "label": label, "owner": owner.username, "expires_at": expires_at, "restricted_to": restricted_to,
        });
        record(c, by, "token.create", id, details, now)?;
        Ok(Created { id, token, listed })
    })
}

/// Creates a token for `owner`, who asks for it.
pub async fn create(state: &AppState, owner: &Actor, input: TokenInput) -> Result<Created, AppError> {
    let (owner, now) = (owner.clone(), state.clock.now());
    state.db.run(move |c| create_in(c, owner.by(), &owner, &input, now)).await
}

/// Revokes token `id` (any user's: every caller is an SDAdmin). Revoking a revoked token changes
/// nothing; an unknown id is `NotFound`.
pub async fn revoke(state: &AppState, actor: &Actor, id: i64) -> Result<api_token::Listed, AppError> {
    let (actor, now) = (actor.clone(), state.clock.now());
    state.db.run(move |c| revoke_in(c, actor.by(), id, now)).await.map(|(listed, _)| listed)
}

/// Revokes token `id` on this connection, recorded as done `by` an admin or the CLI; an unknown id is
/// `NotFound`. Revoking a revoked token changes and records nothing: the flag says whether this call
/// revoked it.
pub fn revoke_in(
    conn: &mut DbConn,
    by: By<'_>,
    id: i64,
    now: i64,
) -> Result<(api_token::Listed, bool), AppError> {
    crate::db::write_tx(conn, |c| {
        let found = api_token::find(c, id)?.ok_or(AppError::NotFound)?;
        let revoked = api_token::revoke(c, id, now)?;
        if revoked {
            let details = serde_json::json!({ "label": found.token.label, "owner": found.owner });
            record(c, by, "token.revoke", id, details, now)?;
        }
        Ok((api_token::find(c, id)?.unwrap_or(found), revoked))
    })
}

/// One user's tokens, or everyone's.
pub async fn list(state: &AppState, owner: Option<i64>) -> Result<Vec<api_token::Listed>, AppError> {
    state.db.read(move |c| Ok(api_token::list(c, owner)?)).await
}

fn record(
    conn: &mut DbConn,
    by: By<'_>,
    action: &str,
    id: i64,
    details: serde_json::Value,
    now: i64,
) -> Result<(), AppError> {
    let target = id.to_string();
    Ok(audit::record(conn, by.event(action, "api_token", &target, details), now)?)
}
