//! The webhook worker: every few seconds each instance claims the due deliveries (a lease per row,
//! `models::webhook_delivery`), signs and sends them through the outbound client (its address
//! policy applies), and records each attempt. A receiver that does not answer 2xx is tried again
//! after `BACKOFF_SECS` (about a day in all), then the delivery is marked failed. Deliveries live in
//! the database, so a restart loses none: the next instance's worker sends what is pending.

use std::time::Duration;

use actix_web::web::Data;

use crate::domain::endpoint_url::scrub;
use crate::error::AppError;
use crate::metrics::DeliveryOutcome;
use crate::models::webhook::{self, Endpoint};
use crate::models::webhook_delivery::{self as deliveries, DELIVERED, Delivery, FAILED, Outcome, PENDING};
use crate::state::AppState;

/// The wait before each retry: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h
/// (23.7 h from the first attempt to the last).
pub const BACKOFF_SECS: [i64; 10] = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800];
/// Why a delivery to a disabled endpoint stops (it is not tried again).
const DISABLED: &str = "The endpoint is disabled.";
/// Deliveries claimed at once.
const BATCH: i64 = 10;
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a receiver's answer the log keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// Sends due deliveries every `interval` until `stop` turns true.
pub fn spawn(state: Data<AppState>, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => break,
            }
            if let Err(e) = deliver_due(&state).await {
                tracing::warn!(error = %e, "webhook deliveries failed");
            }
        }
    });
}

/// Sends every delivery that is due now, a batch at a time; returns how many were attempted.
pub async fn deliver_due(state: &Data<AppState>) -> Result<usize, AppError> {
    let mut attempted = 0;
    loop {
        let (holder, now) = (state.refresher.holder().to_owned(), state.clock.now());
        if !state.db.read(move |c| Ok(deliveries::any_due(c, now)?)).await? {
            return Ok(attempted);
        }
        let claimed = state
            .db
            .run(move |c| crate::db::write_tx(c, |c| Ok(deliveries::claim(c, &holder, now, BATCH)?)))
            .await?;
        if claimed.is_empty() {
            return Ok(attempted);
        }
        attempted += claimed.len();
        let mut sends = tokio::task::JoinSet::new();
        for delivery in claimed {
            let state = state.clone();
            sends.spawn(async move { send_and_record(&state, delivery).await });
        }
        while let Some(done) = sends.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "could not record a webhook delivery");
            }
        }
    }
}

async fn send_and_record(state: &AppState, delivery: Delivery) -> Result<(), AppError> {
    let endpoint_id = delivery.endpoint_id;
    let endpoint = state.db.read(move |c| Ok(webhook::find(c, endpoint_id)?)).await?;
    let (status, error, excerpt) = match endpoint.filter(|e| e.enabled) {
        Some(endpoint) if endpoint.is_email() => super::email::send(state, &endpoint, &delivery).await,
        Some(endpoint) => attempt(state, &endpoint, &delivery).await,
        None => (None, Some(DISABLED.to_owned()), None),
    };
    let now = state.clock.now();
    let delivered = error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
    let retry = BACKOFF_SECS.get(delivery.attempts as usize).filter(|_| error.as_deref() != Some(DISABLED));
    let (state_name, next, counted) = match (delivered, retry) {
        (true, _) => (DELIVERED, now, DeliveryOutcome::Delivered),
        (false, Some(wait)) => (PENDING, now + wait, DeliveryOutcome::Retrying),
        (false, None) => (FAILED, now, DeliveryOutcome::Failed),
    };
    state.metrics.delivered(counted);
    let (id, holder) = (delivery.id, state.refresher.holder().to_owned());
    state
        .db
        .run(move |c| {
            let outcome = Outcome {
                state: state_name,
                next_attempt_at: next,
                status: status.map(i32::from),
                error: error.as_deref(),
                excerpt: excerpt.as_deref(),
            };
            Ok(deliveries::finish(c, id, &holder, &outcome, now)?)
        })
        .await
}

/// One signed POST: the receiver's status, or why there was none, and an excerpt of its answer.
/// The URL is opened only here; an error names it masked (it may be a credential).
async fn attempt(
    state: &AppState,
    endpoint: &Endpoint,
    delivery: &Delivery,
) -> (Option<u16>, Option<String>, Option<String>) {
    let failed = |why: String| (None, Some(why), None);
    let full = match endpoint.open_url(&state.keyring) {
        Ok(full) => full,
        Err(e) => return failed(format!("The endpoint URL could not be opened: {e}.")),
    };
    let scrubbed = |why: String| failed(scrub(&why, full.expose()));
    let url = match url::Url::parse(full.expose()) {
        Ok(url) => url,
        Err(e) => return failed(format!("The endpoint URL is not valid: {e}.")),
    };
    let timestamp = state.clock.now();
    let signature = match endpoint.open_secret(&state.keyring).and_then(|secret| {
        super::signature::sign(&secret, &delivery.message_id, timestamp, &delivery.payload)
    }) {
        Ok(signature) => signature,
        Err(e) => return failed(format!("The delivery could not be signed: {e}.")),
    };
    let request = match state.outbound.request(reqwest::Method::POST, &url) {
        Ok(request) => request
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone()),
        Err(e) => return scrubbed(capitalised(&e.to_string())),
    };
    match state.outbound.send(&url, request, Some(TIMEOUT)).await {
        Ok(answer) => {
            let status = answer.status;
            let error = (!(200..300).contains(&status)).then(|| format!("The receiver answered {status}."));
            (Some(status), error, Some(excerpt(&answer.body)))
        }
        Err(e) => scrubbed(capitalised(&e.to_string())),
    }
}

/// At most `EXCERPT_BYTES` of a body, cut at a character boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_BYTES + 4)]);
    let mut end = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect::<String>() + ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_keep_at_most_a_kilobyte_and_whole_characters() {
        assert_eq!(excerpt(b"ok"), "ok");
        assert_eq!(excerpt(&[b'x'; 5000]).len(), EXCERPT_BYTES);
        let accents = "é".repeat(1000);
        let cut = excerpt(accents.as_bytes());
        assert!(cut.len() <= EXCERPT_BYTES && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_retries_span_about_a_day() {
        let total: i64 = BACKOFF_SECS.iter().sum();
        assert!((20 * 3600..=26 * 3600).contains(&total), "{total}");
        assert!(BACKOFF_SECS.windows(2).all(|w| w[0] <= w[1]));
    }
}
