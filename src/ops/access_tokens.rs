//! Access tokens on demand: the current one while it is fresh, otherwise exactly one refresh per
//! expiry — an in-process single flight (a lock per connection) in front of the database lease
//! (`models::lease`), so that concurrent requests in one process and several processes on one
//! database never spend a rotated refresh token twice.
//!
//! What holds under faults:
//! - a still-valid token is served while someone else refreshes: only a caller without one waits,
//!   and at most as long as a token request may take;
//! - the tokens a provider issued are kept in memory until they are stored, and the store is
//!   retried through a database outage (`refresh::store_until_done`); meanwhile this process
//!   serves them;
//! - only a dead grant (`invalid_grant`) ends a connection's tokens; a refused client marks the
//!   service; anything else is a passing failure with a cooldown for the background refresher,
//!   while an invoke whose token has expired may try again after `MIN_RETRY_GAP_SECS`;
//! - a provider's throttle (a 429) pauses every token request of its service from this instance
//!   (`throttle`), and at most `refresh_concurrency_per_service` are in flight at once: a caller
//!   with a valid token goes on with it, one without is told when to try again.

mod background;
mod refresh;
mod throttle;

use std::time::{Duration, Instant};

use actix_web::web::Data;
use tracing::Instrument;

pub use crate::refresher::{Refresher, Token};
pub use background::{refresh_due, spawn_background};

use crate::domain::connection::Status;
use crate::domain::service::{GrantType, OAuthConfig, ServiceConfig};
use crate::error::AppError;
use crate::models::connection::{self as connections, ConnectionRow};
use crate::models::service::{self as services, ServiceRow};
use crate::state::AppState;

/// An invoke whose token has expired may ask the provider again this long after the last attempt,
/// whatever the background refresher's cooldown: a provider that is back is used within seconds.
pub const MIN_RETRY_GAP_SECS: i64 = 5;
/// How long a caller without a usable token waits for another instance's refresh: a token
/// request's own timeout, and a little more.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(16);
/// How long a caller that still has a valid token waits for the refresh it started before it goes
/// on with the current token (the refresh goes on without it).
const PROACTIVE_WAIT: Duration = Duration::from_secs(5);
/// A client refused by the provider is tried again after this long even if nobody changes the
/// service (a provider's passing fault may look like a refusal).
const CLIENT_REFUSED_RETRY_SECS: i64 = 3600;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    #[error("the connection is {}", .0.label())]
    NotConnected(Status),
    /// The provider rejected the grant: the owner must reconnect.
    #[error("{0}")]
    NeedsReconnect(String),
    /// A passing failure; a later try may work.
    #[error("{0}")]
    Unavailable(String),
    /// The provider asked this instance to wait before its next token request to the service.
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    #[error(transparent)]
    App(#[from] AppError),
}

/// Who asks: an invoke waiting for an answer, or the background refresher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Interactive,
    Background,
}

/// Seconds the background refresher waits after the n-th failure in a row (n ≥ 1): 30 s, 60 s, …
/// at most 15 minutes.
pub fn cooldown(failures: i32) -> i64 {
    (30i64 << (failures - 1).clamp(0, 5)).min(900)
}

/// The margin before expiry at which a token is refreshed: the configured one, or half the token's
/// lifetime when that is shorter (a token that lives 4 s is not refreshed by every call).
pub fn margin_for(row: &ConnectionRow, margin: i64) -> i64 {
    effective_margin(margin, row.expires_at, row.obtained_at())
}

fn effective_margin(margin: i64, expires_at: Option<i64>, obtained_at: Option<i64>) -> i64 {
    match (expires_at, obtained_at) {
        (Some(expires), Some(obtained)) if expires > obtained => margin.min((expires - obtained) / 2),
        _ => margin,
    }
}

/// The stored token of a row just read, when it is fresh (outside the refresh margin): the common
/// case, which needs neither the lock nor another read.
pub fn fresh(state: &AppState, row: &ConnectionRow, margin: i64) -> Result<Option<Token>, AppError> {
    let now = state.clock.now();
    if row.status() != Status::Connected || row.expires_at.is_some_and(|e| e - now <= margin_for(row, margin))
    {
        return Ok(None);
    }
    if state.refresher.pending(row.id, row.token_version, now).is_some() {
        return Ok(None);
    }
    Ok(row.open_access_token(&state.keyring)?.map(|value| Token { value, version: row.token_version }))
}

async fn read(state: &AppState, id: i64) -> Result<(ConnectionRow, ServiceRow), AppError> {
    state
        .db
        .read(move |c| {
            let row = connections::find_by_id(c, id)?;
            let service = services::find_by_id(c, row.service_id)?;
            Ok((row, service))
        })
        .await
}

/// The service's OAuth2 settings with the connection's values in its URLs.
fn oauth_config(row: &ConnectionRow, service: &ServiceRow) -> Result<OAuthConfig, AppError> {
    match crate::models::connection::resolve(service, row)?.1 {
        ServiceConfig::OAuth2(o) => Ok(o),
        _ => Err(AppError::Internal("not an OAuth2 service".into())),
    }
}

/// What a look at the row decided.
enum Next {
    Use(Token),
    Refresh {
        row: Box<ConnectionRow>,
        service: Box<ServiceRow>,
        config: Box<OAuthConfig>,
        usable: Option<Token>,
    },
}

/// Reads the row and decides: use a token, refresh, or fail.
async fn look(
    state: &AppState,
    id: i64,
    margin: i64,
    stale: Option<i64>,
    caller: Caller,
) -> Result<Next, TokenFailure> {
    let (row, service) = read(state, id).await?;
    if row.status() != Status::Connected {
        return Err(TokenFailure::NotConnected(row.status()));
    }
    let now = state.clock.now();
    if let Some(token) =
        state.refresher.pending(id, row.token_version, now).filter(|t| stale != Some(t.version))
    {
        return Ok(Next::Use(token));
    }
    // The stored token while it may still be used: not expired, and not the one a 401 refused.
    let usable = match row.open_access_token(&state.keyring)? {
        Some(value) if stale != Some(row.token_version) && row.expires_at.is_none_or(|e| e > now) => {
            Some(Token { value, version: row.token_version })
        }
        _ => None,
    };
    let expiring = row.expires_at.is_some_and(|e| e - now <= margin_for(&row, margin));
    let config = oauth_config(&row, &service)?;
    let nothing_to_refresh_with =
        config.grant_type == GrantType::AuthorizationCode && row.refresh_token.is_none();
    if let Some(token) = usable.clone().filter(|_| !expiring || nothing_to_refresh_with) {
        return Ok(Next::Use(token));
    }
    // Before the lease: an instance that may not refresh (`--no-refresh`) records nothing either.
    if let Err(off) = crate::oauth::token_calls_allowed(&state.outbound) {
        return usable.map(Next::Use).ok_or_else(|| TokenFailure::Unavailable(off.to_string()));
    }
    if let Some(until) = state.refresher.limits.paused_until(service.id, state.clock.now_millis()) {
        return usable.map(Next::Use).ok_or_else(|| throttle::paused(until, state.clock.now_millis()));
    }
    if let Some(reason) = held_back(&row, &service, now, caller, usable.is_some()) {
        return usable.map(Next::Use).ok_or(TokenFailure::Unavailable(reason));
    }
    Ok(Next::Refresh { row: Box::new(row), service: Box::new(service), config: Box::new(config), usable })
}

/// Why no refresh may be tried now, if so: a client the provider refused (until the service
/// changes), or a recent failure (a cooldown for the background and for callers that still have a
/// token; a short gap for callers without one) unless the service changed since.
fn held_back(
    row: &ConnectionRow,
    service: &ServiceRow,
    now: i64,
    caller: Caller,
    has_token: bool,
) -> Option<String> {
    if service.client_refused_at.is_some_and(|at| now - at < CLIENT_REFUSED_RETRY_SECS) {
        return Some(
            service
                .client_refused_message
                .clone()
                .unwrap_or_else(|| "The provider refused the client credentials.".into()),
        );
    }
    // An admin changed the service since the last attempt (a new client secret, say): try at once.
    if row.last_refresh_attempt_at.is_some_and(|attempt| service.updated_at >= attempt) {
        return None;
    }
    let last = row.status_message.clone().unwrap_or_else(|| "The last token refresh failed.".into());
    let cooling = row.retry_after.filter(|r| *r > now)?;
    if caller == Caller::Background || has_token {
        return Some(format!("{last} The next refresh attempt is in {} s.", cooling - now));
    }
    let since = now - row.last_refresh_attempt_at.unwrap_or(i64::MIN / 2);
    (since < MIN_RETRY_GAP_SECS)
        .then(|| format!("{last} The next refresh attempt is in {} s.", MIN_RETRY_GAP_SECS - since))
}

/// The connection's access token, refreshed first when it expires within the margin, or when
/// `stale_version` (the version a 401 came back for) is still the stored one.
pub async fn access_token(
    state: &Data<AppState>,
    id: i64,
    margin: i64,
    stale_version: Option<i64>,
    caller: Caller,
) -> Result<Token, TokenFailure> {
    let started = Instant::now();
    loop {
        let (row, service, config, usable) = match look(state, id, margin, stale_version, caller).await? {
            Next::Use(token) => return Ok(token),
            Next::Refresh { row, service, config, usable } => (row, service, config, usable),
        };
        // One refresh per connection in this process: a caller with a token does not wait for it.
        let lock = state.refresher.lock_for(id);
        let turn = match lock.clone().try_lock_owned() {
            Ok(turn) => turn,
            Err(_) if usable.is_some() => return Ok(usable.expect("checked")),
            Err(_) => {
                drop(lock.lock_owned().await);
                continue;
            }
        };
        if !take_lease(state, &row).await? {
            drop(turn);
            if let Some(token) = usable {
                return Ok(token);
            }
            if started.elapsed() > WAIT_FOR_OTHERS {
                return Err(TokenFailure::Unavailable(lease_taken(state, id).await));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // The refresh runs as a task of its own: a caller that goes away does not cancel a request
        // whose answer (a rotated refresh token) must be kept. Its log lines name the request.
        let job = tokio::spawn(refresh::run(state.clone(), *row, *service, *config, turn).in_current_span());
        let outcome = match &usable {
            Some(_) => match tokio::time::timeout(PROACTIVE_WAIT, job).await {
                Ok(joined) => joined,
                Err(_) => return Ok(usable.expect("checked")),
            },
            None => job.await,
        };
        let outcome = outcome.map_err(|e| AppError::Internal(format!("token refresh task failed: {e}")))?;
        return match (outcome, usable) {
            // A passing failure before the token expires: it still serves (the failure is recorded).
            (Err(TokenFailure::Unavailable(_) | TokenFailure::RateLimited { .. }), Some(token)) => Ok(token),
            (result, _) => result,
        };
    }
}

/// Why a caller gave up waiting for the lease on connection `id`: who holds it now.
async fn lease_taken(state: &AppState, id: i64) -> String {
    let holder = state.db.read(move |c| Ok(crate::models::lease::holder(c, id)?)).await.ok().flatten();
    match holder {
        Some(holder) if holder == state.refresher.holder() => {
            format!(
                "An earlier refresh of this instance ({holder}) still holds this token's lease; try again \
                 shortly."
            )
        }
        Some(holder) => format!("Another instance ({holder}) is refreshing this token; try again shortly."),
        None => "Another instance was refreshing this token and has just finished; try again.".to_owned(),
    }
}

/// Takes the database lease for a refresh of `row`'s tokens.
async fn take_lease(state: &AppState, row: &ConnectionRow) -> Result<bool, AppError> {
    let (id, version, holder, now) =
        (row.id, row.token_version, state.refresher.holder().to_owned(), state.clock.now());
    state.db.run(move |c| Ok(crate::models::lease::take(c, id, version, &holder, now)?)).await
}

#[cfg(test)]
mod tests;
