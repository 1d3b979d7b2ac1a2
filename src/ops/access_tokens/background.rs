//! The background refresher: tokens about to expire are refreshed even when nobody invokes, and so
//! are the tokens of services with a keep-alive interval once they have been idle that long (refresh
//! tokens that die when unused: Google, Microsoft, Box, Xero).
//!
//! A pass works through everything due, soonest expiry first, taking the next batch while the last
//! one is still running, until nothing due is left or it has run `PASS_LIMIT`: ten thousand tokens
//! that expire within the same minutes are all renewed in one pass. Each service gets at most
//! `refresh_concurrency_per_service` refreshes at a time (a lane of its own), and the pass at most
//! `SERVICES_AT_ONCE` times that: a storm at one provider neither floods it nor holds up the
//! others. A service whose provider asked to wait is skipped; the next pass starts when its pause
//! ends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Data;
use tokio::sync::{Semaphore, watch};

use super::{Caller, TokenFailure, access_token};
use crate::error::AppError;
use crate::models::connection::{self as connections, Due};
use crate::models::{lease, service as services};
use crate::state::AppState;

/// Connections read at a time; the next batch is read when fewer than half of one are in flight.
const BATCH: i64 = 200;
/// How many services' lanes run at full width at once.
const SERVICES_AT_ONCE: usize = 4;
/// The longest pass: then the next one starts over from the soonest expiry (and rereads the
/// keep-alive list), so nothing due waits behind a pass that keeps finding more.
const PASS_LIMIT: Duration = Duration::from_secs(300);

/// Every `interval`, and when a provider's pause ends, a pass over the connections whose tokens
/// expire within twice the margin. Stops when `stop` turns true (a pass in progress with it: the
/// refreshes it started finish on their own, see `access_token`).
pub fn spawn_background(state: Data<AppState>, interval: Duration, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resume: Option<i64> = None;
        loop {
            let pause_over = async {
                match resume {
                    Some(at) => {
                        let ms = (at - state.clock.now_millis()).max(0);
                        tokio::time::sleep(Duration::from_millis(ms.unsigned_abs())).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ticks.tick() => {}
                _ = pause_over => {}
                _ = stop.changed() => break,
            }
            tokio::select! {
                done = pass(&state) => match done {
                    Ok(done) => resume = done.resume_at,
                    Err(e) => {
                        resume = None;
                        tracing::warn!(error = %e, "background token refresh failed");
                    }
                },
                _ = stop.changed() => break,
            }
        }
        tracing::debug!("background token refresh stopped");
    });
}

/// One pass of the background refresher; returns how many connections it set out to refresh
/// (those of a service that is paused wait for the next pass).
pub async fn refresh_due(state: &Data<AppState>) -> Result<usize, AppError> {
    Ok(pass(state).await?.taken)
}

/// What a pass did.
struct Pass {
    /// Connections set out to refresh (refreshed, found fresh, failed, or put off by a pause that
    /// began meanwhile).
    taken: usize,
    /// The earliest end (unix ms) of a pause that put off connections due.
    resume_at: Option<i64>,
}

impl Pass {
    /// A connection waits for its service's pause, which ends at `until`.
    fn put_off(&mut self, until: i64) {
        self.resume_at = Some(self.resume_at.map_or(until, |at| at.min(until)));
    }
}

/// The pass's bounds: a lane per service, and the overall bound over them.
struct Lanes {
    width: usize,
    overall: Arc<Semaphore>,
    lanes: HashMap<i64, Arc<Semaphore>>,
}

impl Lanes {
    fn new(width: usize) -> Lanes {
        Lanes { width, overall: Arc::new(Semaphore::new(width * SERVICES_AT_ONCE)), lanes: HashMap::new() }
    }

    fn lane(&mut self, service_id: i64) -> Arc<Semaphore> {
        self.lanes.entry(service_id).or_insert_with(|| Arc::new(Semaphore::new(self.width))).clone()
    }
}

async fn pass(state: &Data<AppState>) -> Result<Pass, AppError> {
    let started = Instant::now();
    let margin = state.config.refresh_margin_secs;
    let mut lanes = Lanes::new(state.refresher.limits.per_service());
    let mut tasks = tokio::task::JoinSet::new();
    let mut seen = HashSet::new();
    let mut done = Pass { taken: 0, resume_at: None };
    // A keep-alive names the token's version as stale: that refreshes it whatever its expiry.
    let mut first: Vec<(Due, Option<i64>)> = keep_alive(state).await?;
    let (mut after, mut exhausted) = (None, false);
    loop {
        while !exhausted && tasks.len() < (BATCH / 2) as usize && started.elapsed() < PASS_LIMIT {
            let now = state.clock.now();
            let batch = state
                .db
                .run(move |c| Ok(connections::due_for_refresh(c, now + 2 * margin, now, after, BATCH)?))
                .await?;
            exhausted = batch.len() < BATCH as usize;
            after = batch.last().map(|d| (d.expires_at.unwrap_or(i64::MIN), d.id)).or(after);
            let idle = std::mem::take(&mut first);
            for (due, stale) in batch.into_iter().map(|d| (d, None)).chain(idle) {
                if !seen.insert(due.id) {
                    continue;
                }
                if let Some(until) =
                    state.refresher.limits.paused_until(due.service_id, state.clock.now_millis())
                {
                    done.put_off(until);
                    continue;
                }
                done.taken += 1;
                let (state, lane, overall) =
                    (state.clone(), lanes.lane(due.service_id), lanes.overall.clone());
                tasks.spawn(async move {
                    let _lane = lane.acquire_owned().await;
                    let _overall = overall.acquire_owned().await;
                    refresh_one(&state, due, stale, 2 * margin).await
                });
            }
        }
        match tasks.join_next().await {
            Some(Ok(Some(until))) => done.put_off(until),
            Some(_) => {}
            None => break,
        }
    }
    Ok(done)
}

/// Refreshes one connection due; returns when its service's pause ends if the pause put it off.
async fn refresh_one(state: &Data<AppState>, due: Due, stale: Option<i64>, margin: i64) -> Option<i64> {
    let paused = || state.refresher.limits.paused_until(due.service_id, state.clock.now_millis());
    if let Some(until) = paused() {
        return Some(until);
    }
    match access_token(state, due.id, margin, stale, Caller::Background).await {
        Ok(_) => None,
        Err(TokenFailure::RateLimited { .. }) => Some(paused().unwrap_or_else(|| state.clock.now_millis())),
        Err(e) => {
            tracing::info!(connection_id = due.id, error = %e, "background refresh did not succeed");
            None
        }
    }
}

/// The connections of services with a keep-alive interval that have been idle that long, with
/// the token version to refresh over.
async fn keep_alive(state: &AppState) -> Result<Vec<(Due, Option<i64>)>, AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |c| {
            let mut idle = Vec::new();
            for (service_id, days) in services::with_keep_alive(c)? {
                let cutoff = now - i64::from(days) * 86_400;
                for (id, version) in lease::idle_since(c, service_id, cutoff, now, BATCH)? {
                    idle.push((Due { id, service_id, expires_at: None }, Some(version)));
                }
            }
            Ok(idle)
        })
        .await
}
