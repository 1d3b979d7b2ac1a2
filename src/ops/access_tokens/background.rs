//! The background refresher: tokens about to expire are refreshed even when nobody invokes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Data;

use super::{Caller, access_token};
use crate::error::AppError;
use crate::models::connection as connections;
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
    let ids = state.db.run(move |c| Ok(connections::due_for_refresh(c, now + 2 * margin, now, 200)?)).await?;
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids.iter().copied() {
        let (state, permits) = (state.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            if let Err(e) = access_token(&state, id, 2 * margin, None, Caller::Background).await {
                tracing::info!(connection_id = id, error = %e, "background refresh did not succeed");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(ids.len())
}
