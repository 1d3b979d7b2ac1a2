//! One refresh, with the lease held: the token request, what its answer means for the connection
//! and its service, and the store of new tokens, retried until it lands.

use std::time::{Duration, Instant};

use actix_web::web::Data;
use tokio::sync::OwnedMutexGuard;

use super::{Token, TokenFailure, cooldown};
use crate::activity::Entry;
use crate::alerts::events::{self as alerts, Event};
use crate::crypto::Secret;
use crate::domain::connection::{Status, parse_granted};
use crate::domain::destinations::Role;
use crate::domain::service::{GrantType, OAuthConfig};
use crate::domain::variables;
use crate::error::AppError;
use crate::metrics::RefreshOutcome;
use crate::models::attention::FAILING_AFTER;
use crate::models::connection::{self as connections, ConnectionRow};
use crate::models::event::NewEvent;
use crate::models::lease::{self, Refreshed};
use crate::models::service::{self as services, ServiceRow};
use crate::oauth::{self, TokenError, TokenSet};
use crate::state::AppState;

const NO_REFRESH_TOKEN: &str =
    "The access token expired and the provider granted no refresh token (ask for offline access): reconnect.";

/// Refreshes `row`'s tokens. The caller holds the lease and this process's turn (`_turn`, given
/// back when this ends).
pub(super) async fn run(
    state: Data<AppState>,
    row: ConnectionRow,
    service: ServiceRow,
    config: OAuthConfig,
    _turn: OwnedMutexGuard<()>,
) -> Result<Token, TokenFailure> {
    let started = Instant::now();
    let endpoint = config.refresh_endpoint().to_owned();
    if let Err(e) = crate::ops::entrust::ensure_entrusted(&state, &row, Role::Refresh, &endpoint).await {
        return Err(match e {
            AppError::NotConnected { message, .. } => TokenFailure::NeedsReconnect(message),
            other => TokenFailure::App(other),
        });
    }
    let secret = match service.client_secret_for(&state.keyring, &endpoint) {
        Ok(secret) => secret,
        Err(AppError::Conflict(message)) => {
            return Err(passing_failure(&state, &row, message, RefreshOutcome::Failed, started).await);
        }
        Err(e) => return Err(e.into()),
    };
    let mut used = match config.grant_type {
        GrantType::ClientCredentials => None,
        GrantType::AuthorizationCode => match row.open_refresh_token(&state.keyring)? {
            Some(token) => Some(token),
            None => return Err(dead_grant(&state, &row, NO_REFRESH_TOKEN.into(), started).await),
        },
    };
    // Held across both requests below: at most a few token requests per service in flight.
    let _sending = super::throttle::turn_to_send(&state, &row).await?;
    let mut result = request(&state, &row, &config, &endpoint, secret.as_ref(), used.as_ref()).await;
    let mut fell_back = false;
    if matches!(result, Err(TokenError::InvalidGrant { .. }))
        && let Some(previous) = row.open_previous_refresh_token(&state.keyring)?
    {
        // The token a rotation replaced, refused its successor: a provider's grace window may take it.
        tracing::info!(
            connection = row.link_name,
            "the provider refused the refresh token; trying the one it replaced"
        );
        result = request(&state, &row, &config, &endpoint, secret.as_ref(), Some(&previous)).await;
        used = Some(previous);
        fell_back = true;
    }
    if !matches!(result, Err(TokenError::RateLimited { .. })) {
        state.refresher.limits.answered(row.service_id, state.clock.now_millis());
    }
    match result {
        Ok(tokens) => {
            Ok(success(&state, &row, &service, &config, tokens, used.filter(|_| !fell_back), started).await)
        }
        Err(TokenError::InvalidGrant { error, description }) => {
            let detail = description.map(|d| format!(": {d}")).unwrap_or_default();
            let message = format!(
                "The provider rejected the token refresh ({error}{detail}): reconnect this connection."
            );
            Err(dead_grant(&state, &row, message, started).await)
        }
        Err(e @ TokenError::ClientRefused { .. }) => {
            Err(client_refused(&state, &row, &service, &e.to_string(), started).await)
        }
        Err(TokenError::RateLimited { status, retry_after }) => {
            Err(super::throttle::throttled(&state, &row, status, retry_after, started).await)
        }
        Err(e @ (TokenError::Transient(_) | TokenError::NotSent(_) | TokenError::Off)) => {
            let message = format!("The last token refresh failed: {e}.");
            Err(passing_failure(&state, &row, message, RefreshOutcome::Failed, started).await)
        }
    }
}

/// The token request: a refresh grant with `refresh_token`, or a new client-credentials grant.
async fn request(
    state: &AppState,
    row: &ConnectionRow,
    config: &OAuthConfig,
    endpoint: &str,
    client_secret: Option<&Secret>,
    refresh_token: Option<&Secret>,
) -> Result<TokenSet, TokenError> {
    let mut form = match refresh_token {
        Some(token) => {
            vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", token.expose().to_owned())]
        }
        None => vec![("grant_type", "client_credentials".to_owned())],
    };
    let scopes = row.scopes_requested();
    if !scopes.is_empty() && (refresh_token.is_none() || config.scope_on_refresh) {
        form.push(("scope", scopes.join(&config.scope_delimiter)));
    }
    oauth::token_request(&state.outbound, config, endpoint, client_secret, form).await
}

/// New tokens: served by this process at once, stored as soon as the database takes them.
async fn success(
    state: &Data<AppState>,
    row: &ConnectionRow,
    service: &ServiceRow,
    config: &OAuthConfig,
    tokens: TokenSet,
    used: Option<Secret>,
    started: Instant,
) -> Token {
    let now = state.clock.now();
    let expires_at = tokens.expires_in.map(|s| now + s.max(0));
    let replaced = match (&tokens.refresh_token, used) {
        (Some(new), Some(old)) if *new != old => Some(old),
        _ => None,
    };
    let captured = match crate::ops::captured::after_refresh(row, service, &tokens.captured) {
        Ok(changed) => changed.map(|(values, entrusted)| (variables::to_json(&values), entrusted.to_json())),
        Err(e) => {
            tracing::warn!(connection = row.link_name, error = %e, "the refreshed values were not kept");
            None
        }
    };
    let new = Refreshed {
        captured,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        replaced,
        expires_at,
        refresh_expires_at: tokens.refresh_token_expires_in.map(|s| now + s.max(0)),
        granted: tokens.scope.as_deref().map(|s| parse_granted(s, &config.scope_delimiter)),
    };
    let token = Token { value: new.access_token.clone(), version: row.token_version + 1 };
    state.refresher.set_pending(row.id, row.token_version, new.access_token.clone(), expires_at);
    if service.client_refused_at.is_some() {
        let id = service.id;
        if let Err(e) = state.db.run(move |c| Ok(services::clear_client_refused(c, id)?)).await {
            tracing::warn!(error = %e, "could not clear the service's refused-client mark");
        }
    }
    // The first attempt while the caller waits (so that what it reads next is stored); should the
    // database fail, the rest in the background while the caller goes on with the token.
    let (keyring, tokens, id, version) = (state.keyring.clone(), new.clone(), row.id, row.token_version);
    let recovered = alerts::was_broken(row);
    let stored = state.db.run(move |c| {
        crate::db::write_tx(c, |c| {
            let stored = lease::store(c, &keyring, id, version, &tokens, now)?;
            if stored && recovered {
                alerts::connection_event(c, Event::Recovered, id, now)?;
            }
            Ok(stored)
        })
    });
    match stored.await {
        Ok(stored) => stored_or_not(state, row.id, &row.link_name, stored, 0),
        Err(e) => {
            tracing::warn!(
                connection = row.link_name,
                error = %e,
                "cannot store refreshed tokens yet; they are kept and the store is retried"
            );
            tokio::spawn(store_until_done(
                state.clone(),
                row.id,
                row.link_name.clone(),
                row.token_version,
                new,
                now,
            ));
        }
    }
    note(state, row.id, started, RefreshOutcome::Success, None).await;
    token
}

/// The store landed (or found the tokens changed meanwhile): the pending token goes.
fn stored_or_not(state: &AppState, id: i64, link_name: &str, stored: bool, retries: u32) {
    state.refresher.clear_pending(id);
    match (stored, retries) {
        (false, _) => tracing::warn!(
            connection = link_name,
            "the connection's tokens changed before this store of refreshed ones landed (a revoke, a \
             reconnect, or an earlier attempt of the same store that the database took late); this copy \
             was not stored"
        ),
        (true, 0) => {}
        (true, n) => tracing::info!(
            connection = link_name,
            retries = n,
            "refreshed tokens stored after a database fault"
        ),
    }
}

/// Stores refreshed tokens, retrying through database faults for as long as this process lives,
/// unless the tokens changed meanwhile (a revoke, a reconnect): what the provider issued is never
/// dropped because a write failed once. Until then, `Refresher::pending` serves the new token.
async fn store_until_done(
    state: Data<AppState>,
    id: i64,
    link_name: String,
    version: i64,
    new: Refreshed,
    now: i64,
) {
    let mut delay = Duration::from_millis(100);
    for retry in 1u32.. {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
        let (keyring, tokens) = (state.keyring.clone(), new.clone());
        match state.db.run(move |c| lease::store(c, &keyring, id, version, &tokens, now)).await {
            Ok(stored) => return stored_or_not(&state, id, &link_name, stored, retry),
            Err(e) if retry % 30 == 0 => {
                tracing::warn!(
                    connection = link_name,
                    error = %e,
                    retry,
                    "still cannot store refreshed tokens; retrying"
                )
            }
            Err(_) => {}
        }
    }
}

/// The grant is dead at the provider: the tokens go, and the owner must reconnect.
async fn dead_grant(
    state: &AppState,
    row: &ConnectionRow,
    message: String,
    started: Instant,
) -> TokenFailure {
    let (id, now, shown) = (row.id, state.clock.now(), message.clone());
    let cleared = state
        .db
        .run(move |c| {
            crate::db::write_tx(c, |c| {
                connections::clear_secrets(c, id, Status::NeedsReconnect, Some(&shown), None, now)?;
                alerts::connection_event(c, Event::NeedsReconnect, id, now).map(drop)
            })
        })
        .await;
    note(state, row.id, started, RefreshOutcome::Rejected, Some(message.clone())).await;
    match cleared {
        Ok(()) => TokenFailure::NeedsReconnect(message),
        Err(e) => TokenFailure::App(e),
    }
}

/// The provider refused the service's client credentials: the service is marked (its page and its
/// connections say so, and refreshes wait for an admin to change it); every token is kept.
async fn client_refused(
    state: &AppState,
    row: &ConnectionRow,
    service: &ServiceRow,
    why: &str,
    started: Instant,
) -> TokenFailure {
    let message = format!(
        "The provider refused the client credentials of the service “{}” ({why}). The connections keep \
         their tokens; an admin must check the client ID and secret on the service's page.",
        service.name
    );
    let (service_id, now, shown) = (service.id, state.clock.now(), message.clone());
    let newly = service.client_refused_at.is_none();
    let marked = state.db.run(move |c| {
        crate::db::write_tx(c, |c| {
            services::mark_client_refused(c, service_id, &shown, now)?;
            if newly {
                alerts::service_refused(c, service_id, now)?;
            }
            Ok(())
        })
    });
    if let Err(e) = marked.await {
        tracing::warn!(error = %e, "could not mark the service's client as refused");
    }
    passing_failure(state, row, message, RefreshOutcome::ClientRefused, started).await
}

/// A failure that may pass: counted, the lease released, the background refresher cooling down.
async fn passing_failure(
    state: &AppState,
    row: &ConnectionRow,
    message: String,
    outcome: RefreshOutcome,
    started: Instant,
) -> TokenFailure {
    let now = state.clock.now();
    let retry_after = now + cooldown(row.refresh_failures + 1);
    let (id, holder, shown) = (row.id, state.refresher.holder().to_owned(), message.clone());
    // Said once, when the failures in a row reach the mark.
    let failing = row.refresh_failures + 1 == FAILING_AFTER;
    let released = state.db.run(move |c| {
        crate::db::write_tx(c, |c| {
            lease::release_failed(c, id, &holder, &shown, retry_after, now)?;
            if failing {
                alerts::connection_event(c, Event::RefreshFailing, id, now)?;
            }
            Ok(())
        })
    });
    if let Err(e) = released.await {
        tracing::warn!(connection = row.link_name, error = %e, "could not record a failed refresh");
    }
    crate::logs::warn(&format!("the token refresh of {}", row.link_name), &message);
    note(state, row.id, started, outcome, Some(message.clone())).await;
    TokenFailure::Unavailable(message)
}

/// Counts the refresh's outcome and queues its event (off the request path, like invokes).
pub(super) async fn note(
    state: &AppState,
    id: i64,
    started: Instant,
    outcome: RefreshOutcome,
    failure: Option<String>,
) {
    state.metrics.refreshed(outcome);
    let event = NewEvent {
        kind: "refresh",
        actor: "system".into(),
        latency_ms: started.elapsed().as_millis() as i64,
        ok: failure.is_none(),
        message: failure,
        ..NewEvent::default()
    };
    state.activity.record(Entry { connection_id: id, event, at: state.clock.now(), mark_used: false }).await;
}
