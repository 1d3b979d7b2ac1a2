//! A user's own sessions (My account): where they are signed in, and ending any of them. A session
//! is named outside the server by a handle derived from its stored hash, so neither the cookie nor
//! the hash the database keys it by ever leaves the server.

use crate::auth::session::SignedIn;
use crate::error::AppError;
use crate::models::session::{self as sessions, Session};
use crate::ops::users::{record, session_limits};
use crate::random::sha256_hex;
use crate::state::AppState;

/// One session as My account lists it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// What names it in the form that ends it.
    pub handle: String,
    /// The browser and system, read from the `User-Agent` ("Firefox on Linux").
    pub browser: String,
    pub address: Option<String>,
    pub started_at: i64,
    pub last_seen_at: i64,
    /// The session this page was asked for.
    pub current: bool,
}

/// The handle of the session stored under `id_hash`.
fn handle_of(id_hash: &str) -> String {
    sha256_hex(&format!("session handle:{id_hash}"))[..32].to_owned()
}

fn view(s: &Session, current: &str) -> SessionView {
    SessionView {
        handle: handle_of(&s.id_hash),
        browser: crate::domain::user_agent::describe(s.user_agent.as_deref()),
        address: s.address.clone(),
        started_at: s.created_at,
        last_seen_at: s.last_seen_at,
        current: s.id_hash == current,
    }
}

/// The signed-in user's sessions within the timeouts, the most recently seen first.
pub async fn mine(state: &AppState, by: &SignedIn) -> Result<Vec<SessionView>, AppError> {
    let (idle, created) = session_limits(state, state.clock.now());
    let (id, current) = (by.user.id, by.session.id_hash.clone());
    let found = state.db.read(move |c| Ok(sessions::live_of_user(c, id, idle, created)?)).await?;
    Ok(found.iter().map(|s| view(s, &current)).collect())
}

/// Ends the signed-in user's session named by `handle` (another user's is not found); whether it
/// was the session of this request (which is then signed out).
pub async fn end_mine(
    state: &AppState,
    by: &SignedIn,
    source: Option<String>,
    handle: &str,
) -> Result<bool, AppError> {
    let (user, current, handle, now) =
        (by.user.clone(), by.session.id_hash.clone(), handle.to_owned(), state.clock.now());
    state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                let all = sessions::live_of_user(c, user.id, i64::MIN, i64::MIN)?;
                let found = all.iter().find(|s| handle_of(&s.id_hash) == handle).ok_or(AppError::NotFound)?;
                sessions::delete_of_user(c, user.id, &found.id_hash)?;
                let is_current = found.id_hash == current;
                let details = serde_json::json!({
                    "current": is_current,
                    "browser": crate::domain::user_agent::describe(found.user_agent.as_deref()),
                    "address": found.address,
                });
                record(c, &user, source.as_deref(), "session.end", &user.username, details, now)?;
                Ok(is_current)
            })
        })
        .await
}
