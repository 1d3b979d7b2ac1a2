//! A refresh and its service's limits (`refresher::ProviderLimits`): the turn to send a token
//! request (at most a few per service in flight), and what a provider's throttle (a 429) does — the
//! service pauses, the lease goes, the attempt is recorded, and the connection is not failing.

use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;

use super::TokenFailure;
use super::refresh::note;
use crate::metrics::RefreshOutcome;
use crate::models::connection::ConnectionRow;
use crate::models::lease;
use crate::oauth::RetryAfter;
use crate::state::AppState;

/// A refresh that waited longer than this for its turn renews its lease before it sends, so that the
/// lease still outlasts the token request's own timeout.
const RENEW_AFTER: Duration = Duration::from_secs(1);

/// What a caller without a token is told while service requests pause until `until_ms`.
pub(super) fn paused(until_ms: i64, now_ms: i64) -> TokenFailure {
    let secs = u64::try_from((until_ms - now_ms + 999) / 1000).unwrap_or(0).max(1);
    TokenFailure::RateLimited {
        message: format!(
            "The provider asked for fewer token requests; this service's next one is in {secs} s, and \
             this connection has no valid token until then."
        ),
        retry_after_secs: secs,
    }
}

/// Waits for the service's turn to send `row`'s token request; the permit is the turn. Refuses, and
/// gives the lease back, when the provider's pause began meanwhile or the lease was lost while it
/// waited.
pub(super) async fn turn_to_send(
    state: &AppState,
    row: &ConnectionRow,
) -> Result<OwnedSemaphorePermit, TokenFailure> {
    let waiting = Instant::now();
    let permit = state.refresher.limits.permit(row.service_id).await;
    let now_ms = state.clock.now_millis();
    let (id, holder) = (row.id, state.refresher.holder().to_owned());
    if let Some(until) = state.refresher.limits.paused_until(row.service_id, now_ms) {
        if let Err(e) = state.db.run(move |c| Ok(lease::release(c, id, &holder)?)).await {
            tracing::warn!(connection = row.link_name, error = %e, "could not release a refresh lease");
        }
        return Err(paused(until, now_ms));
    }
    if waiting.elapsed() > RENEW_AFTER {
        let now = state.clock.now();
        if !state.db.run(move |c| Ok(lease::renew(c, id, &holder, now)?)).await? {
            return Err(TokenFailure::Unavailable(
                "This refresh waited for its turn longer than its lease lasts, and another instance took \
                 the lease; try again shortly."
                    .into(),
            ));
        }
    }
    Ok(permit)
}

/// The provider throttled `row`'s refresh (HTTP `status`): the service pauses as asked, the lease is
/// released with the background refresher waiting as long, and the attempt is recorded without
/// counting as a failure (the grant and the client are fine; alerts stay quiet).
pub(super) async fn throttled(
    state: &AppState,
    row: &ConnectionRow,
    status: u16,
    retry_after: Option<RetryAfter>,
    started: Instant,
) -> TokenFailure {
    let now_ms = state.clock.now_millis();
    let until = state.refresher.limits.throttled(row.service_id, retry_after, now_ms);
    let failure = paused(until, now_ms);
    let wait = match retry_after {
        Some(asked) => format!("Retry-After {asked}"),
        None => "no Retry-After, backing off".to_owned(),
    };
    let message = format!(
        "The provider limits token requests (HTTP {status}, {wait}): this service's token requests pause for \
         {} s; the connection keeps its tokens.",
        (until - now_ms + 999) / 1000
    );
    let (id, holder, shown, now) =
        (row.id, state.refresher.holder().to_owned(), message.clone(), state.clock.now());
    let retry_at = (until + 999) / 1000;
    let released =
        state.db.run(move |c| Ok(lease::release_throttled(c, id, &holder, &shown, retry_at, now)?)).await;
    if let Err(e) = released {
        tracing::warn!(connection = row.link_name, error = %e, "could not record a throttled refresh");
    }
    crate::logs::warn(&format!("the token endpoint of service {}", row.service_id), &message);
    note(state, row.id, started, RefreshOutcome::RateLimited, Some(message)).await;
    failure
}
