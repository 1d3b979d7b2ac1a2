//! Managing users from the console and the API: add one, change their role, disable or enable them,
//! delete one who owns nothing. Each change is one transaction with its audit entry.
//!
//! No one changes their own role or status, or deletes themselves: a slip would lock them out at
//! once. The last-SDAdmin rule: no change may leave the portal without an enabled SDAdmin, or nobody
//! could administer it any more; as nobody acts on themselves, what it stops is two SDAdmins acting
//! on each other at the same moment. A change of role or status, and a delete, first locks the rows
//! of every enabled SDAdmin (`models::user::lock_active_admins`), then reads its target again, checks
//! that another one remains, and writes, all in that transaction: the second of two such changes
//! waits for the first, and is refused.

use crate::auth::actor::Actor;
use crate::crypto::Secret;
use crate::db::DbConn;
use crate::error::{AppError, FieldErrors};
use crate::models::audit::{self, Event};
use crate::models::connection::owner;
use crate::models::session as sessions;
use crate::models::user::{self, Role, User};
use crate::ops::passwords::{self, Chosen};
use crate::state::AppState;

/// The longest username.
pub const MAX_USERNAME: usize = 100;

/// What pages and the API show of a user: never the password or its hash.
#[derive(Debug, Clone)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub locked: bool,
    pub must_change_password: bool,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    /// How many connections they own.
    pub connections_owned: i64,
    /// How many sessions they have within the timeouts.
    pub sessions: i64,
}

impl UserView {
    fn of(u: &User, connections_owned: i64, sessions: i64, now: i64) -> UserView {
        UserView {
            username: u.username.clone(),
            role: u.role(),
            disabled: u.disabled,
            locked: u.is_locked(now),
            must_change_password: u.must_change_password,
            created_at: u.created_at,
            last_sign_in_at: u.last_sign_in_at,
            connections_owned,
            sessions,
        }
    }

    /// `active`, `disabled` or `locked` (a disabled account reads as disabled whatever its lock).
    pub fn status(&self) -> &'static str {
        match (self.disabled, self.locked) {
            (true, _) => "disabled",
            (false, true) => "locked",
            (false, false) => "active",
        }
    }
}

/// The times before which a session has timed out: `(idle_since, created_since)`.
pub fn session_limits(state: &AppState, now: i64) -> (i64, i64) {
    (now - state.config.session_idle_secs, now - state.config.session_absolute_secs)
}

/// Every user, by name.
pub async fn list(state: &AppState) -> Result<Vec<UserView>, AppError> {
    let now = state.clock.now();
    let (idle, created) = session_limits(state, now);
    state
        .db
        .read(move |c| {
            let (owned, live) = (user::owned_counts(c)?, sessions::live_counts(c, idle, created)?);
            let count =
                |counts: &[(i64, i64)], id: i64| counts.iter().find(|(u, _)| *u == id).map_or(0, |c| c.1);
            let users = user::list(c)?;
            Ok(users.iter().map(|u| UserView::of(u, count(&owned, u.id), count(&live, u.id), now)).collect())
        })
        .await
}

/// One user, with the link names of the connections they own (by name).
pub async fn details(state: &AppState, username: &str) -> Result<(UserView, Vec<String>), AppError> {
    let (name, now) = (username.to_owned(), state.clock.now());
    let (idle, created) = session_limits(state, now);
    state
        .db
        .read(move |c| {
            let found = user::find_by_name(c, &name)?.ok_or(AppError::NotFound)?;
            let links = owner::owned_by(c, found.id)?;
            let live = sessions::live_of_user(c, found.id, idle, created)?.len();
            let view = UserView::of(&found, links.len() as i64, live as i64, now);
            Ok((view, links))
        })
        .await
}

/// A new user as typed: the password is `None` to have one generated.
pub struct NewUserInput {
    pub username: String,
    pub role: String,
    pub password: Option<Secret>,
}

/// A user just added, and the password generated for them (shown once, kept nowhere).
pub struct Created {
    pub user: UserView,
    pub generated: Option<Secret>,
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid(FieldErrors::from([(field.to_owned(), vec![message.into()])]))
}

/// A username as typed (at most 100 characters as sent), trimmed: 1 or more letters, digits and `.`, `_`, `-`, `@`, starting with a
/// letter or digit (it is part of the user's page's address), and not `new` (the add-user page).
pub fn check_username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a username.".into());
    }
    if raw.chars().count() > MAX_USERNAME {
        return Err(format!("Use at most {MAX_USERNAME} characters."));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if !name.chars().all(allowed) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("Use letters, digits and . _ - @, starting with a letter or digit.".into());
    }
    if name.eq_ignore_ascii_case("new") {
        return Err("“new” is reserved: choose another username.".into());
    }
    Ok(name.to_owned())
}

/// The role a form or a body names: exactly `sdadmin` or `technician`, as the API document says.
pub fn role_named(raw: &str) -> Option<Role> {
    [Role::SdAdmin, Role::Technician].into_iter().find(|r| r.as_str() == raw)
}

/// Adds a user who must change the password at their first sign-in.
pub async fn create(state: &AppState, actor: &Actor, input: NewUserInput) -> Result<Created, AppError> {
    let mut errors = FieldErrors::new();
    let username = check_username(&input.username)
        .map_err(|m| crate::domain::validate::push(&mut errors, "username", m))
        .unwrap_or_default();
    let role = role_named(&input.role);
    if role.is_none() {
        crate::domain::validate::push(&mut errors, "role", "Choose SDAdmin or Technician.");
    }
    let chosen = match passwords::chosen(input.password) {
        Ok(chosen) => Some(chosen),
        Err(message) => {
            crate::domain::validate::push(&mut errors, "password", message);
            None
        }
    };
    let (Some(role), Some(Chosen { password, generated }), true) = (role, chosen, errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let hash = state.hasher.hash(password.clone()).await?;
    let (actor, now) = (actor.clone(), state.clock.now());
    let name = username.clone();
    let created = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                // Names that differ only in case would be told apart by nobody signing in.
                let taken = user::list(c)?.into_iter().find(|u| u.username.eq_ignore_ascii_case(&name));
                if let Some(other) = taken {
                    return Err(invalid("username", format!("“{}” is already a user.", other.username)));
                }
                user::insert_with(c, &name, &hash, role, true, now).map_err(|e| match e {
                    e if crate::db::is_unique_violation(&e) => invalid("username", "This username is taken."),
                    e => e.into(),
                })?;
                let details = serde_json::json!({ "role": role.as_str(), "generated_password": generated });
                record(c, &actor.user, actor.source.as_deref(), "user.create", &name, details, now)?;
                user::find_by_name(c, &name)?.ok_or(AppError::NotFound)
            })
        })
        .await?;
    let user = UserView::of(&created, 0, 0, now);
    Ok(Created { user, generated: generated.then_some(password) })
}

/// A change of role or status; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Changes {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// What a change did, for the message.
#[derive(Debug, Clone)]
pub struct Changed {
    pub user: UserView,
    /// How many sessions a disable ended.
    pub sessions_ended: usize,
}

/// Changes a user's role and/or status, under the last-SDAdmin rule. Disabling ends their sessions
/// (their API tokens are refused while they are disabled, and work again once enabled). Changing
/// nothing is no error and records nothing.
pub async fn change(
    state: &AppState,
    actor: &Actor,
    username: &str,
    changes: Changes,
) -> Result<Changed, AppError> {
    let (actor, name, now) = (actor.clone(), username.to_owned(), state.clock.now());
    let changed = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let admins = user::lock_active_admins(c)?;
                let target = user::find_by_name(c, &name)?.ok_or(AppError::NotFound)?;
                let role = changes.role.unwrap_or(target.role());
                let disabled = changes.disabled.unwrap_or(target.disabled);
                if target.id == actor.id && (role != target.role() || disabled != target.disabled) {
                    return Err(AppError::Conflict(SELF_CHANGE.into()));
                }
                let still_admin = role == Role::SdAdmin && !disabled;
                keeps_an_admin(&target, still_admin, &admins)?;
                let mut ended = 0;
                if role != target.role() {
                    user::set_role(c, target.id, role, now)?;
                    let details = serde_json::json!({ "from": target.role().as_str(), "to": role.as_str() });
                    record(
                        c,
                        &actor.user,
                        actor.source.as_deref(),
                        "user.role_change",
                        &target.username,
                        details,
                        now,
                    )?;
                }
                if disabled != target.disabled {
                    user::set_disabled(c, target.id, disabled, now)?;
                    let action = if disabled { "user.disable" } else { "user.enable" };
                    if disabled {
                        ended = sessions::delete_for_user(c, target.id)?;
                    }
                    record(
                        c,
                        &actor.user,
                        actor.source.as_deref(),
                        action,
                        &target.username,
                        serde_json::json!({ "sessions_ended": ended }),
                        now,
                    )?;
                }
                Ok(ended)
            })
        })
        .await?;
    let (user, _) = details(state, username).await?;
    Ok(Changed { user, sessions_ended: changed })
}

/// The refusal of the last-SDAdmin rule for `target`, who is (or stays) an enabled SDAdmin after the
/// change when `still_admin`; `admins` are the enabled SDAdmins, read under the lock.
fn keeps_an_admin(target: &User, still_admin: bool, admins: &[i64]) -> Result<(), AppError> {
    if !target.is_active_admin() || still_admin || admins.iter().any(|id| *id != target.id) {
        return Ok(());
    }
    Err(AppError::Conflict(last_admin_message(&target.username)))
}

/// Why one's own role or status cannot change: a slip would lock oneself out at once, so another
/// SDAdmin does it.
pub const SELF_CHANGE: &str =
    "You cannot change your own role or disable your own account: ask another SDAdmin.";

/// What the last-SDAdmin rule says.
pub fn last_admin_message(username: &str) -> String {
    format!(
        "{username} is the last active SDAdmin: make another user an active SDAdmin first, so that \
         someone can still administer Connections."
    )
}

/// Why a user cannot be deleted now, if they cannot: their own account, the last active SDAdmin,
/// or connections they own (transfer them first).
pub fn delete_refusal(actor: &User, target: &UserView, active_admins: usize) -> Option<String> {
    if target.username == actor.username {
        return Some("You cannot delete your own account: ask another SDAdmin.".into());
    }
    if target.role == Role::SdAdmin && !target.disabled && active_admins <= 1 {
        return Some(last_admin_message(&target.username));
    }
    match target.connections_owned {
        0 => None,
        1 => Some(format!("{} owns 1 connection: transfer it to another SDAdmin first.", target.username)),
        n => {
            Some(format!("{} owns {n} connections: transfer them to another SDAdmin first.", target.username))
        }
    }
}

/// How many enabled SDAdmins there are (the delete page says whether the rule applies).
pub async fn active_admins(state: &AppState) -> Result<usize, AppError> {
    let users = state.db.read(|c| Ok(user::list(c)?)).await?;
    Ok(users.iter().filter(|u| u.is_active_admin()).count())
}

/// Deletes a user who owns no connection; their sessions, API tokens and consents in progress go
/// with them. Refused (409) for one's own account, the last active SDAdmin, or an owner of
/// connections.
pub async fn delete(state: &AppState, actor: &Actor, username: &str) -> Result<(), AppError> {
    let (actor, name, now) = (actor.clone(), username.to_owned(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let admins = user::lock_active_admins(c)?;
                let target = user::find_by_name(c, &name)?.ok_or(AppError::NotFound)?;
                let owned = owner::count_owned(c, target.id)?;
                let view = UserView::of(&target, owned, 0, now);
                if let Some(refusal) = delete_refusal(&actor, &view, admins.len()) {
                    return Err(AppError::Conflict(refusal));
                }
                // A connection given to them meanwhile holds a foreign key: the same refusal.
                user::delete(c, target.id).map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                        _,
                    ) => AppError::Conflict(format!(
                        "{name} owns connections: transfer them to another SDAdmin first."
                    )),
                    e => e.into(),
                })?;
                let details = serde_json::json!({ "role": target.role().as_str() });
                record(c, &actor.user, actor.source.as_deref(), "user.delete", &target.username, details, now)
            })
        })
        .await
}

/// Records a change to user `target` made from `source` (in the caller's transaction). `details` never holds a
/// password.
pub(crate) fn record(
    c: &mut DbConn,
    actor: &User,
    source: Option<&str>,
    action: &str,
    target: &str,
    details: serde_json::Value,
    now: i64,
) -> Result<(), AppError> {
    let event = Event {
        actor_id: Some(actor.id),
        actor: &actor.username,
        action,
        target_type: "user",
        target,
        details,
        source,
    };
    Ok(audit::record(c, event, now)?)
}
