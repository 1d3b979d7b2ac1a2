//! What this instance may send to each service's token endpoint: at most a few token requests in
//! flight (a semaphore per service, shared by the background refresher and on-demand refreshes),
//! and none while the provider has asked to wait (a pause, from a 429's `Retry-After` or, when it
//! gives none, a backoff that doubles with each 429 in a row).
//!
//! Per instance, in memory: instances share no provider quota they could see, and a throttle is
//! short (seconds), so what one instance learns it need not tell the others; each backs off on its
//! own 429s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::oauth::RetryAfter;

/// The shortest pause: a `Retry-After: 0` or a date already past still spaces the next attempts.
const MIN_PAUSE_MS: i64 = 1000;
/// The backoff without `Retry-After`: 1 s after the first 429 in a row, doubling, at most a minute.
const BACKOFF_FIRST_MS: i64 = 1000;
const BACKOFF_MAX_MS: i64 = 60_000;

/// A service's pause: until when, and how many 429s in a row led to it.
#[derive(Clone, Copy)]
struct Pause {
    until_ms: i64,
    in_a_row: u32,
}

/// The per-service bounds of this instance's token requests.
pub struct ProviderLimits {
    per_service: usize,
    permits: Mutex<HashMap<i64, Arc<Semaphore>>>,
    pauses: Mutex<HashMap<i64, Pause>>,
}

/// The backoff after the n-th 429 in a row (n ≥ 1) that named no wait.
fn backoff_ms(in_a_row: u32) -> i64 {
    (BACKOFF_FIRST_MS << in_a_row.saturating_sub(1).min(10)).min(BACKOFF_MAX_MS)
}

impl ProviderLimits {
    pub fn new(per_service: usize) -> ProviderLimits {
        ProviderLimits {
            per_service: per_service.max(1),
            permits: Mutex::default(),
            pauses: Mutex::default(),
        }
    }

    /// How many token requests one service may have in flight.
    pub fn per_service(&self) -> usize {
        self.per_service
    }

    /// A turn to send a token request to service `service_id`; waits while `per_service` are out.
    pub async fn permit(&self, service_id: i64) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut permits = self.permits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            permits.entry(service_id).or_insert_with(|| Arc::new(Semaphore::new(self.per_service))).clone()
        };
        semaphore.acquire_owned().await.expect("the semaphore is never closed")
    }

    /// When the pause of service `service_id` ends (unix ms), if it is paused at `now_ms`.
    pub fn paused_until(&self, service_id: i64, now_ms: i64) -> Option<i64> {
        let pauses = self.pauses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pauses.get(&service_id).map(|p| p.until_ms).filter(|until| *until > now_ms)
    }

    /// The provider throttled a request of service `service_id`: pauses it as long as it asked, or
    /// for the next backoff step. A pause already longer stands (concurrent 429s name different
    /// waits). Returns when the pause ends (unix ms).
    pub fn throttled(&self, service_id: i64, retry_after: Option<RetryAfter>, now_ms: i64) -> i64 {
        let mut pauses = self.pauses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pause = pauses.entry(service_id).or_insert(Pause { until_ms: now_ms, in_a_row: 0 });
        pause.in_a_row = pause.in_a_row.saturating_add(1);
        let asked = match retry_after {
            Some(wait) => wait.until_millis(now_ms),
            None => now_ms + backoff_ms(pause.in_a_row),
        };
        pause.until_ms = pause.until_ms.max(asked).max(now_ms + MIN_PAUSE_MS);
        pause.until_ms
    }

    /// A token request of service `service_id` got an answer that was no throttle: the backoff
    /// starts again from its first step. A pause in force stands (this answer may have left before
    /// the 429 that set it).
    pub fn answered(&self, service_id: i64, now_ms: i64) {
        let mut pauses = self.pauses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(pause) = pauses.get_mut(&service_id) {
            pause.in_a_row = 0;
            if pause.until_ms <= now_ms {
                pauses.remove(&service_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_lasts_as_asked_and_backs_off_without_retry_after() {
        let limits = ProviderLimits::new(4);
        let now = 1_000_000;
        assert_eq!(limits.paused_until(7, now), None);
        assert_eq!(limits.throttled(7, Some(RetryAfter::Seconds(2)), now), now + 2000);
        assert_eq!(limits.paused_until(7, now + 1999), Some(now + 2000));
        assert_eq!(limits.paused_until(7, now + 2000), None, "over at the time asked");
        assert_eq!(limits.paused_until(8, now), None, "another service goes on");
        // Without Retry-After: 1 s, 2 s, 4 s … (counting the 429 above), at most a minute.
        let later = now + 10_000;
        let steps: Vec<i64> = (0..9).map(|_| limits.throttled(7, None, later) - later).collect();
        assert_eq!(steps, [2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
        limits.answered(7, later);
        assert_eq!(limits.paused_until(7, later), Some(later + 60_000), "an answer does not end a pause");
        let after = later + 60_000;
        assert_eq!(limits.throttled(7, None, after), after + 1000, "the backoff starts again");
    }

    #[test]
    fn the_longest_wait_stands_and_no_pause_is_shorter_than_a_second() {
        let limits = ProviderLimits::new(4);
        let now = 5_000;
        assert_eq!(limits.throttled(1, Some(RetryAfter::Seconds(30)), now), now + 30_000);
        assert_eq!(limits.throttled(1, Some(RetryAfter::Seconds(2)), now), now + 30_000);
        assert_eq!(limits.throttled(2, Some(RetryAfter::Seconds(0)), now), now + 1000);
    }

    #[tokio::test]
    async fn at_most_the_bound_of_permits_per_service() {
        let limits = ProviderLimits::new(2);
        let (a, b) = (limits.permit(1).await, limits.permit(1).await);
        let other = limits.permit(2).await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), limits.permit(1)).await;
        assert!(third.is_err(), "a third request of service 1 waits");
        drop((a, other));
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), limits.permit(1)).await;
        assert!(third.is_ok());
        drop(b);
    }
}
