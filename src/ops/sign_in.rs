//! What a sign-in attempt writes: the account's failure count or its sign-in time, and the audit
//! entry, in one transaction. The actor of an attempt is the username as typed (never the password),
//! and its source the client address.

use serde_json::json;

use crate::error::AppError;
use crate::models::audit::{self, By};
use crate::models::{session as sessions, user};
use crate::state::AppState;

/// The typed username as the audit log keeps it: control characters dropped, at most 100
/// characters (the longest username).
fn typed(username: &str) -> String {
    username.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Why an attempt was refused, as the audit entry says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    UnknownUser,
    Disabled,
    Locked,
    WrongPassword,
}

impl Refused {
    fn as_str(self) -> &'static str {
        match self {
            Refused::UnknownUser => "unknown user",
            Refused::Disabled => "account disabled",
            Refused::Locked => "account locked",
            Refused::WrongPassword => "wrong password",
        }
    }
}

/// Records a refused attempt. A wrong password for `account` counts towards its lock, and the failure
/// that locks it is recorded as a lock-out too.
pub async fn refused(
    state: &AppState,
    username: &str,
    source: Option<String>,
    account: Option<i64>,
    why: Refused,
) -> Result<(), AppError> {
    let (name, now) = (typed(username), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let by = By { actor_id: None, actor: &name, source: source.as_deref() };
                let locked = match (account, why) {
                    (Some(id), Refused::WrongPassword) => user::record_failure(c, id, now)?,
                    _ => false,
                };
                let details = json!({ "reason": why.as_str() });
                audit::record(c, by.event("auth.sign_in_failed", "user", &name, details), now)?;
                if locked {
                    let until = crate::clock::rfc3339(now + user::LOCKOUT_SECS);
                    let details =
                        json!({ "failed_attempts": user::MAX_FAILED_LOGINS, "locked_until": until });
                    audit::record(c, by.event("auth.locked", "user", &name, details), now)?;
                }
                Ok(())
            })
        })
        .await
}

/// Admits a sign-in whose password was right, unless the account was locked or disabled while it
/// was checked (then it is recorded as refused, and false). Expired sessions are cleared on the way.
pub async fn admitted(
    state: &AppState,
    account: &user::User,
    source: Option<String>,
) -> Result<bool, AppError> {
    let (id, name, now) = (account.id, account.username.clone(), state.clock.now());
    let (idle, absolute) = (state.config.session_idle_secs, state.config.session_absolute_secs);
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let admitted = user::record_success(c, id, now)?;
                let (by, action, details) = match admitted {
                    true => {
                        sessions::delete_expired(c, now - idle, now - absolute)?;
                        let by = By { actor_id: Some(id), actor: &name, source: source.as_deref() };
                        (by, "auth.sign_in", json!({}))
                    }
                    false => (
                        By { actor_id: None, actor: &name, source: source.as_deref() },
                        "auth.sign_in_failed",
                        json!({ "reason": Refused::Locked.as_str() }),
                    ),
                };
                audit::record(c, by.event(action, "user", &name, details), now)?;
                Ok::<_, AppError>(admitted)
            })
        })
        .await
}

/// Records a sign-out.
pub async fn signed_out(
    state: &AppState,
    account: &user::User,
    source: Option<String>,
) -> Result<(), AppError> {
    let (id, name, now) = (account.id, account.username.clone(), state.clock.now());
    state
        .db
        .run(move |c| {
            let by = By { actor_id: Some(id), actor: &name, source: source.as_deref() };
            Ok(audit::record(c, by.event("auth.sign_out", "user", &name, json!({})), now)?)
        })
        .await
}
