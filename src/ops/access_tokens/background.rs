//! The background refresher: tokens about to expire are refreshed even when nobody invokes, and so
//! are the tokens of services with a keep-alive interval once they have been idle that long (refresh
//! tokens that die when unused: Google, Microsoft, Box, Xero).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Data;

use super::{Caller, access_token};
use crate::error::AppError;
use crate::models::connection as connections;
use crate::models::{lease, service as services};
use crate::state::AppState;

/// Every `interval`, the connections whose tokens expire within twice the margin, a few at a time.
/// Stops when `stop` turns true.
pub fn spawn_background(
    state: Data<AppState>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
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
pub async fn refresh_due(state: &Data<AppState>) -> Result<usize, AppError> {
    let margin = state.config.refresh_margin_secs;
    let now = state.clock.now();
    let (ids, idle) = state
        .db
        .run(move |c| {
            let ids = connections::due_for_refresh(c, now + 2 * margin, now, 200)?;
            let mut idle = Vec::new();
            for (service_id, days) in services::with_keep_alive(c)? {
                let cutoff = now - i64::from(days) * 86_400;
                idle.extend(lease::idle_since(c, service_id, cutoff, now, 200)?);
            }
            idle.retain(|(id, _)| !ids.contains(id));
            Ok((ids, idle))
        })
        .await?;
    // A keep-alive names the token's version as stale: that refreshes it whatever its expiry.
    let due = ids.iter().map(|id| (*id, None)).chain(idle.iter().map(|(id, version)| (*id, Some(*version))));
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    let mut count = 0;
    for (id, stale) in due {
        count += 1;
        let (state, permits) = (state.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            if let Err(e) = access_token(&state, id, 2 * margin, stale, Caller::Background).await {
                tracing::info!(connection_id = id, error = %e, "background refresh did not succeed");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(count)
}
