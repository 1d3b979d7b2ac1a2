//! Giving connections to another owner: one connection, or every connection of a user at once (a
//! user who leaves). The new owner is an active SDAdmin, who may then edit and reconnect them as
//! their own. The stored credentials stay until the new owner reconnects, so the connections keep
//! working meanwhile; consents in progress end with the move (`models::connection::owner`). Any
//! SDAdmin may move any connection, as any SDAdmin may revoke or delete one. Each move is audited
//! in its transaction.

use crate::db::DbConn;
use crate::error::AppError;
use crate::models::audit::{self, Event};
use crate::models::connection::{self as connections, owner};
use crate::models::user::{self, Role, User};
use crate::ops::connections::{ConnectionView, invalid, load};
use crate::state::AppState;

/// The field a refused new owner is reported on (the API's `to`, the forms' `to`).
const TO: &str = "to";

/// The user named `to` (exactly: a username has no spaces around it), when they may own
/// connections: an SDAdmin who is not disabled. A locked account is only throttled for a while, and
/// may.
pub fn new_owner(c: &mut DbConn, to: &str) -> Result<User, AppError> {
    if to.trim().is_empty() {
        return Err(invalid(TO, "Choose the new owner."));
    }
    // Only a name a user could have is looked up, and said back.
    let plausible = to.chars().count() <= 100 && !to.chars().any(char::is_control);
    let Some(found) = (if plausible { user::find_by_name(c, to)? } else { None }) else {
        return Err(invalid(
            TO,
            match plausible {
                true => format!("There is no user named “{to}”."),
                false => "There is no user of this name.".to_owned(),
            },
        ));
    };
    let name = &found.username;
    if found.role() != Role::SdAdmin {
        return Err(invalid(TO, format!("{name} is not an SDAdmin: only SDAdmins can own connections.")));
    }
    if found.disabled {
        return Err(invalid(TO, format!("{name} is disabled: choose an active SDAdmin.")));
    }
    Ok(found)
}

/// The SDAdmins who may own connections (the forms' choices), by name.
pub async fn candidates(state: &AppState) -> Result<Vec<String>, AppError> {
    let users = state.db.read(|c| Ok(user::list(c)?)).await?;
    Ok(users.into_iter().filter(|u| u.role() == Role::SdAdmin && !u.disabled).map(|u| u.username).collect())
}

/// Records one connection's move (in the caller's transaction).
fn record(c: &mut DbConn, actor: &User, link: &str, from: &str, to: &str, now: i64) -> Result<(), AppError> {
    let event = Event {
        actor_id: Some(actor.id),
        actor: &actor.username,
        action: "connection.transfer",
        target_type: "connection",
        target: link,
        details: serde_json::json!({ "from": from, "to": to }),
    };
    Ok(audit::record(c, event, now)?)
}

/// Gives connection `link_name` to the user named `to`.
pub async fn transfer(
    state: &AppState,
    actor: &User,
    link_name: &str,
    to: &str,
) -> Result<ConnectionView, AppError> {
    let loaded = load(state, link_name).await?;
    let (id, link, to, actor_row, now) =
        (loaded.row.id, link_name.to_owned(), to.to_owned(), actor.clone(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let new = new_owner(c, &to)?;
                // The owner as it is now: the connection may have moved since it was loaded.
                let current = connections::find_by_id(c, id)?.owner_id;
                if current == new.id {
                    return Err(invalid(TO, format!("{} already owns this connection.", new.username)));
                }
                let from = user::name_of(c, current)?;
                owner::set_owner(c, id, new.id, now)?;
                record(c, &actor_row, &link, &from, &new.username, now)
            })
        })
        .await?;
    Ok(load(state, link_name).await?.view())
}

/// A user, with how many connections they own (the transfer page says it before the move).
pub async fn owner_of_many(state: &AppState, username: &str) -> Result<(User, i64), AppError> {
    let name = username.to_owned();
    state
        .db
        .read(move |c| {
            let found = user::find_by_name(c, &name)?.ok_or(AppError::NotFound)?;
            let owned = owner::count_owned(c, found.id)?;
            Ok((found, owned))
        })
        .await
}

/// What moving a user's connections did.
#[derive(Debug, Clone)]
pub struct MovedAll {
    pub from: String,
    pub to: String,
    /// The link names of the connections that moved.
    pub moved: Vec<String>,
}

/// Gives every connection of the user named `from` to the user named `to`, in one transaction: all
/// of them move, or none. A user who owns none is no error (nothing moves).
pub async fn transfer_all(
    state: &AppState,
    actor: &User,
    from: &str,
    to: &str,
) -> Result<MovedAll, AppError> {
    let (from, to, actor_row, now) = (from.to_owned(), to.to_owned(), actor.clone(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let old = user::find_by_name(c, &from)?.ok_or(AppError::NotFound)?;
                let new = new_owner(c, &to)?;
                if old.id == new.id {
                    return Err(invalid(TO, format!("Choose another user: {from} already owns them.")));
                }
                let links = owner::owned_by(c, old.id)?;
                owner::move_all(c, old.id, new.id, now)?;
                for link in &links {
                    record(c, &actor_row, link, &old.username, &new.username, now)?;
                }
                let summary = Event {
                    actor_id: Some(actor_row.id),
                    actor: &actor_row.username,
                    action: "user.transfer_connections",
                    target_type: "user",
                    target: &old.username,
                    details: serde_json::json!({ "to": new.username, "count": links.len() }),
                };
                audit::record(c, summary, now)?;
                Ok(MovedAll { from: old.username, to: new.username, moved: links })
            })
        })
        .await
}
