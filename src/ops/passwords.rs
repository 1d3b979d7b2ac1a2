//! Passwords from the console and the API: an administrator's reset of another user's password
//! (typed, or generated and shown once), and a user's change of their own. A password an
//! administrator chose must be changed at the next sign-in; a reset signs the user out everywhere.

use crate::auth::actor::Actor;
use crate::auth::session::SignedIn;
use crate::crypto::Secret;
use crate::error::{AppError, FieldErrors};
use crate::models::api_token;
use crate::models::session as sessions;
use crate::models::user;
use crate::ops::users::record;
use crate::password::check_policy;
use crate::state::AppState;

/// A new password an administrator chose: typed, or generated.
pub struct Chosen {
    pub password: Secret,
    pub generated: bool,
}

/// The typed password once it passes the policy, or a generated one when none was typed.
pub fn chosen(typed: Option<Secret>) -> Result<Chosen, String> {
    match typed {
        Some(password) => check_policy(&password).map(|()| Chosen { password, generated: false }),
        None => crate::random::readable_password()
            .map(|p| Chosen { password: Secret::new(p), generated: true })
            .map_err(|_| "A password could not be generated: type one.".to_owned()),
    }
}

/// What a reset did. `generated` is the new password when it was generated: shown once, kept
/// nowhere.
pub struct Reset {
    pub username: String,
    pub generated: Option<Secret>,
    pub sessions_ended: usize,
    pub tokens_revoked: usize,
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid(FieldErrors::from([(field.to_owned(), vec![message.into()])]))
}

/// Sets another user's password (`typed`, or a generated one), to be changed at their next sign-in,
/// and ends their sessions on every instance (the session triggers tell the others). Their API
/// tokens are revoked too unless `keep_tokens`: a reset after a suspected compromise must shut out a
/// script holding a stolen token, as `connections user passwd` does.
pub async fn reset(
    state: &AppState,
    actor: &Actor,
    username: &str,
    typed: Option<Secret>,
    keep_tokens: bool,
) -> Result<Reset, AppError> {
    let Chosen { password, generated } = chosen(typed).map_err(|m| invalid("password", m))?;
    let (actor, name, now) = (actor.clone(), username.to_owned(), state.clock.now());
    let target =
        state.db.read(move |c| Ok(user::find_by_name(c, &name)?)).await?.ok_or(AppError::NotFound)?;
    if target.id == actor.id {
        return Err(AppError::Conflict("Change your own password under My account.".into()));
    }
    let hash = state.hasher.hash(password.clone()).await?;
    let (sessions_ended, tokens_revoked) = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                user::set_password_to_change(c, target.id, &hash, true, now)?;
                let ended = sessions::delete_for_user(c, target.id)?;
                let revoked = if keep_tokens { 0 } else { api_token::revoke_for_user(c, target.id, now)? };
                let details = serde_json::json!({
                    "generated_password": generated,
                    "sessions_ended": ended,
                    "tokens_revoked": revoked,
                });
                record(
                    c,
                    &actor.user,
                    actor.source.as_deref(),
                    "user.password_reset",
                    &target.username,
                    details,
                    now,
                )?;
                Ok((ended, revoked))
            })
        })
        .await?;
    Ok(Reset {
        username: username.to_owned(),
        generated: generated.then_some(password),
        sessions_ended,
        tokens_revoked,
    })
}

/// A user's change of their own password, as typed.
pub struct OwnChange {
    pub current: Secret,
    pub new: Secret,
    pub again: Secret,
}

/// Changes the signed-in user's own password: the current one is required (a wrong one counts
/// towards the sign-in lock, so a left-open session cannot be used to guess it), the new one twice,
/// under the policy, and different from the current one. Clears the must-change mark and ends the
/// user's other sessions; returns how many. API tokens are left as they are.
pub async fn change_own(
    state: &AppState,
    by: &SignedIn,
    source: Option<String>,
    input: OwnChange,
) -> Result<usize, AppError> {
    let now = state.clock.now();
    let (name, keep) = (by.user.username.clone(), by.session.id_hash.clone());
    // The stored hash as it is now, not as the session's cached copy holds it.
    let me = state.db.read(move |c| Ok(user::find_by_name(c, &name)?)).await?;
    let me = me.ok_or(AppError::Unauthenticated)?;
    let id = me.id;
    if me.is_locked(now) {
        return Err(invalid("current_password", "Too many wrong passwords: try again in 15 minutes."));
    }
    let right = state.hasher.verify(input.current.clone(), Some(me.password_hash.clone())).await?;
    if !right {
        state.db.run(move |c| Ok(user::record_failure(c, id, now)?)).await?;
        return Err(invalid("current_password", "This is not your current password."));
    }
    let mut errors = FieldErrors::new();
    if let Err(message) = check_policy(&input.new) {
        crate::domain::validate::push(&mut errors, "new_password", message);
    } else if input.new.expose() != input.again.expose() {
        crate::domain::validate::push(&mut errors, "new_password_again", "The two passwords differ.");
    } else if input.new.expose() == input.current.expose() {
        crate::domain::validate::push(
            &mut errors,
            "new_password",
            "Choose a password other than the current one.",
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let hash = state.hasher.hash(input.new).await?;
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                user::set_password_to_change(c, me.id, &hash, false, now)?;
                let ended = sessions::delete_others_of_user(c, me.id, &keep)?;
                let details = serde_json::json!({ "other_sessions_ended": ended });
                record(c, &me, source.as_deref(), "user.password_change", &me.username, details, now)?;
                Ok(ended)
            })
        })
        .await
}
