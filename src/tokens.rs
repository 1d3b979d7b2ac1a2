//! Access tokens on demand: the current one while it is fresh, otherwise exactly one refresh per
//! expiry — an in-process single flight (a lock per connection) in front of the database lease
//! (`models::lease`), so that concurrent requests in one process and several processes on one
//! database never spend a rotated refresh token twice. Waiters re-read the token the winner stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::crypto::Secret;
use crate::domain::connection::Status;
use crate::domain::destinations::Role;
use crate::domain::service::{GrantType, OAuthConfig, ServiceConfig};
use crate::error::AppError;
use crate::models::connection::{self as connections, ConnectionRow};
use crate::models::event::{self, NewEvent};
use crate::models::lease::{self, Refreshed};
use crate::models::service::{self as services, ServiceRow};
use crate::oauth::{self, TokenError};

/// How long a request waits for another instance's refresh before giving up.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(20);

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    #[error("the connection is {}", .0.label())]
    NotConnected(Status),
    /// The provider rejected the refresh: the owner must reconnect.
    #[error("{0}")]
    NeedsReconnect(String),
    /// A passing failure; a later try may work.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    App(#[from] AppError),
}

/// A token to use, and the version it came with (a 401 refreshes only if that is still current).
pub struct Token {
    pub value: Secret,
    pub version: i64,
}

/// The single-flight locks and this instance's lease identity.
pub struct Refresher {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    holder: String,
}

impl Refresher {
    pub fn new() -> Result<Refresher, AppError> {
        Ok(Refresher { locks: Mutex::new(HashMap::new()), holder: crate::auth::token::random_urlsafe(12)? })
    }

    fn lock_for(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(id).or_default().clone()
    }
}

/// Seconds to wait after the n-th failure in a row (n ≥ 1): 30 s, 60 s, … at most 15 minutes.
pub fn cooldown(failures: i32) -> i64 {
    (30i64 << (failures - 1).clamp(0, 5)).min(900)
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

fn oauth_config(service: &ServiceRow) -> Result<OAuthConfig, AppError> {
    match service.view()?.config {
        ServiceConfig::OAuth2(o) => Ok(o),
        _ => Err(AppError::Internal("not an OAuth2 service".into())),
    }
}

/// The stored token of a row just read, when it is fresh (outside the refresh margin): the common
/// case, which needs neither the lock nor another read.
pub fn fresh(state: &AppState, row: &ConnectionRow, margin: i64) -> Result<Option<Token>, AppError> {
    let now = state.clock.now();
    if row.status() != Status::Connected || row.expires_at.is_some_and(|e| e - now <= margin) {
        return Ok(None);
    }
    Ok(row.open_access_token(&state.keyring)?.map(|value| Token { value, version: row.token_version }))
}

/// The connection's access token, refreshed first when it expires within `margin` seconds, or when
/// `stale_version` (the version a 401 came back for) is still the stored one.
pub async fn access_token(state: &AppState, id: i64, margin: i64, stale_version: Option<i64>) -> Result<Token, TokenFailure> {
    let lock = state.refresher.lock_for(id);
    let _turn = lock.lock().await;
    let started = Instant::now();
    loop {
        let (row, service) = read(state, id).await?;
        if row.status() != Status::Connected {
            return Err(TokenFailure::NotConnected(row.status()));
        }
        let now = state.clock.now();
        let forced = stale_version == Some(row.token_version);
        // The stored token while it may still be used: not expired, and not the one a 401 refused.
        let mut usable = match row.open_access_token(&state.keyring)? {
            Some(value) if !forced && row.expires_at.is_none_or(|e| e > now) => Some(Token { value, version: row.token_version }),
            _ => None,
        };
        let expiring = row.expires_at.is_some_and(|e| e - now <= margin);
        if !expiring && let Some(token) = usable.take() {
            return Ok(token);
        }
        // Before the lease: an instance that may not refresh records nothing either.
        if let Err(off) = oauth::token_calls_allowed(&state.outbound) {
            return usable.ok_or_else(|| TokenFailure::Unavailable(off.to_string()));
        }
        if let Some(retry) = row.retry_after.filter(|r| *r > now) {
            // Cooling down after a failure: use the token while it lasts, otherwise say so.
            return usable.ok_or_else(|| {
                TokenFailure::Unavailable(format!(
                    "{} The next refresh attempt is in {} s.",
                    row.status_message.clone().unwrap_or_else(|| "The last token refresh failed.".into()),
                    retry - now
                ))
            });
        }
        let config = oauth_config(&service)?;
        if config.grant_type == GrantType::AuthorizationCode
            && row.refresh_token.is_none()
            && let Some(token) = usable.take()
        {
            // Nothing to refresh with: the token serves until it expires, then the owner reconnects.
            return Ok(token);
        }
        if !take_or_wait(state, &row, now).await? {
            if started.elapsed() > WAIT_FOR_OTHERS {
                return Err(TokenFailure::Unavailable("Another instance is refreshing this token; try again shortly.".into()));
            }
            continue;
        }
        return match (refresh_holding_lease(state, &row, &service, &config).await, usable) {
            // A passing failure before the token expires: it still serves (the failure is recorded).
            (Err(TokenFailure::Unavailable(_)), Some(token)) => Ok(token),
            (result, _) => result,
        };
    }
}

/// Takes the lease, or pauses briefly while another holder works (the caller then re-reads the row:
/// the other holder's token, once stored, is simply used). True: this instance holds the lease.
async fn take_or_wait(state: &AppState, row: &ConnectionRow, now: i64) -> Result<bool, AppError> {
    let (id, version, holder) = (row.id, row.token_version, state.refresher.holder.clone());
    if state.db.run(move |c| Ok(lease::take(c, id, version, &holder, now)?)).await? {
        return Ok(true);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(false)
}

/// With the lease held: asks the provider (no transaction open), then stores the result while
/// still holding the lease, or records the failure.
async fn refresh_holding_lease(
    state: &AppState,
    row: &ConnectionRow,
    service: &ServiceRow,
    config: &OAuthConfig,
) -> Result<Token, TokenFailure> {
    let started = Instant::now();
    let endpoint = config.refresh_endpoint();
    if let Err(e) = crate::ops::entrust::ensure_entrusted(state, row, Role::Refresh, endpoint).await {
        return Err(match e {
            AppError::NotConnected { message, .. } => TokenFailure::NeedsReconnect(message),
            other => TokenFailure::App(other),
        });
    }
    let secret = match service.client_secret_for(&state.keyring, endpoint) {
        Ok(secret) => secret,
        Err(AppError::Conflict(message)) => {
            let retry_after = state.clock.now() + cooldown(row.refresh_failures + 1);
            let (id, holder, now, shown) = (row.id, state.refresher.holder.clone(), state.clock.now(), message.clone());
            state.db.run(move |c| Ok(lease::release_failed(c, id, &holder, &shown, retry_after, now)?)).await?;
            return Err(TokenFailure::Unavailable(message));
        }
        Err(e) => return Err(e.into()),
    };
    let form = match config.grant_type {
        GrantType::ClientCredentials => {
            let mut form = vec![("grant_type", "client_credentials".to_owned())];
            let scopes = row.scopes_requested();
            if !scopes.is_empty() {
                form.push(("scope", scopes.join(&config.scope_delimiter)));
            }
            form
        }
        GrantType::AuthorizationCode => match row.open_refresh_token(&state.keyring)? {
            Some(refresh) => vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh.expose().to_owned())],
            None => {
                let message = "The access token expired and the provider granted no refresh token (ask for offline access): reconnect.";
                needs_reconnect(state, row, message, started).await?;
                return Err(TokenFailure::NeedsReconnect(message.into()));
            }
        },
    };
    let result = oauth::token_request(&state.outbound, config, endpoint, secret.as_ref(), form).await;
    let now = state.clock.now();
    let latency_ms = started.elapsed().as_millis() as i64;
    match result {
        Ok(tokens) => {
            let granted = tokens.scope.as_deref().map(|s| crate::domain::connection::parse_granted(s, &config.scope_delimiter));
            let value = tokens.access_token.clone();
            let new = Refreshed {
                access_token: tokens.access_token,
                refresh_token: tokens.refresh_token,
                expires_at: tokens.expires_in.map(|s| now + s.max(0)),
                granted,
            };
            let (keyring, id, holder) = (state.keyring.clone(), row.id, state.refresher.holder.clone());
            let stored = state.db.run(move |c| lease::store(c, &keyring, id, &holder, &new, now)).await?;
            state.connection_changed(&row.link_name);
            if !stored {
                // Only a stalled process can get here (the lease outlives the request's timeout).
                tracing::error!(connection = row.link_name, "refresh lease lost before the new token could be stored");
            }
            note(state, row.id, NewEvent { kind: "refresh", actor: "system".into(), latency_ms, ok: stored, ..NewEvent::default() })
                .await?;
            Ok(Token { value, version: row.token_version + 1 })
        }
        Err(TokenError::Rejected { error, description }) => {
            let message = format!(
                "The provider rejected the token refresh ({error}{}): reconnect this connection.",
                description.map(|d| format!(": {d}")).unwrap_or_default()
            );
            needs_reconnect(state, row, &message, started).await?;
            Err(TokenFailure::NeedsReconnect(message))
        }
        Err(e) => {
            let message = format!("The last token refresh failed: {e}.");
            let retry_after = now + cooldown(row.refresh_failures + 1);
            let (id, holder, shown) = (row.id, state.refresher.holder.clone(), message.clone());
            state.db.run(move |c| Ok(lease::release_failed(c, id, &holder, &shown, retry_after, now)?)).await?;
            let event = NewEvent {
                kind: "refresh",
                actor: "system".into(),
                latency_ms,
                ok: false,
                message: Some(message.clone()),
                ..NewEvent::default()
            };
            note(state, row.id, event).await?;
            Err(TokenFailure::Unavailable(message))
        }
    }
}

async fn needs_reconnect(state: &AppState, row: &ConnectionRow, message: &str, started: Instant) -> Result<(), AppError> {
    let (id, now, shown) = (row.id, state.clock.now(), message.to_owned());
    state.db.run(move |c| Ok(connections::clear_secrets(c, id, Status::NeedsReconnect, Some(&shown), None, now)?)).await?;
    state.connection_changed(&row.link_name);
    let latency_ms = started.elapsed().as_millis() as i64;
    note(
        state,
        row.id,
        NewEvent { kind: "refresh", actor: "system".into(), latency_ms, ok: false, message: Some(message.into()), ..NewEvent::default() },
    )
    .await
}

async fn note(state: &AppState, id: i64, event: NewEvent) -> Result<(), AppError> {
    let now = state.clock.now();
    state.db.run(move |c| Ok(event::record(c, id, &event, now)?)).await
}

/// Refreshes tokens about to expire even when nobody invokes: every `interval`, the connections
/// whose tokens expire within twice the margin, a few at a time. Stops when `stop` turns true.
pub fn spawn_background(state: actix_web::web::Data<AppState>, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => break,
            }
            if let Err(e) = refresh_due(&state).await {
                tracing::warn!(error = %e, "background token refresh failed");
            }
        }
        tracing::debug!("background token refresh stopped");
    });
}

/// One pass of the background refresher; returns how many connections it looked at.
pub async fn refresh_due(state: &actix_web::web::Data<AppState>) -> Result<usize, AppError> {
    let margin = state.config.refresh_margin_secs;
    let now = state.clock.now();
    let ids = state.db.run(move |c| Ok(connections::due_for_refresh(c, now + 2 * margin, now, 200)?)).await?;
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids.iter().copied() {
        let (state, permits) = (state.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            if let Err(e) = access_token(&state, id, 2 * margin, None).await {
                tracing::info!(connection_id = id, error = %e, "background refresh did not succeed");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(ids.len())
}
