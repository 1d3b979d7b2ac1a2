//! This instance's refreshes in flight (see `ops::access_tokens`): one lock per connection, so that
//! one request refreshes while the others wait or use a still-valid token; the tokens a provider
//! issued that are not stored yet; the holder name this instance's leases carry; and, per service,
//! how many token requests may be in flight and whether the provider asked to wait
//! (`provider_limits`).

mod provider_limits;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::crypto::Secret;
use crate::error::AppError;

pub use provider_limits::ProviderLimits;

/// A token to use, and the version it came with (a 401 refreshes only if that is still current).
#[derive(Clone)]
pub struct Token {
    pub value: Secret,
    pub version: i64,
}

/// Tokens a provider issued whose store is still being retried: they replace `over_version`.
struct Pending {
    over_version: i64,
    token: Secret,
    expires_at: Option<i64>,
}

/// The single-flight locks, the tokens not stored yet, and this process's lease identity.
pub struct Refresher {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    pending: Mutex<HashMap<i64, Pending>>,
    /// `<instance>:<random>`: the instance part survives restarts, so a restarted instance can
    /// release the leases it held when it died (`models::lease::release_instance`).
    holder: String,
    /// Per service: token requests in flight, and the provider's pause.
    pub limits: ProviderLimits,
}

impl Refresher {
    /// `per_service`: how many token requests one service may have in flight from this instance.
    pub fn new(instance: &str, per_service: usize) -> Result<Refresher, AppError> {
        let holder = format!("{instance}:{}", crate::random::random_urlsafe(9)?);
        Ok(Refresher {
            locks: Mutex::default(),
            pending: Mutex::default(),
            holder,
            limits: ProviderLimits::new(per_service),
        })
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Waits, at most `within`, until no refresh of this process is in flight (each holds its
    /// connection's lock until its outcome is stored); false when one still runs. Used at shutdown,
    /// after requests and the background refresher have stopped, so no new one starts: a refresh cut
    /// off after the provider rotated the refresh token would lose the only one that still works.
    pub async fn finish_in_flight(&self, within: std::time::Duration) -> bool {
        let locks: Vec<_> =
            self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect();
        let all = async {
            for lock in locks {
                drop(lock.lock_owned().await);
            }
        };
        tokio::time::timeout(within, all).await.is_ok()
    }

    pub(crate) fn lock_for(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(id).or_default().clone()
    }

    /// The tokens this process obtained over `version` and has not stored yet.
    pub(crate) fn pending(&self, id: i64, version: i64, now: i64) -> Option<Token> {
        let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let found =
            pending.get(&id).filter(|p| p.over_version == version && p.expires_at.is_none_or(|e| e > now))?;
        Some(Token { value: found.token.clone(), version: version + 1 })
    }

    pub(crate) fn set_pending(&self, id: i64, over_version: i64, token: Secret, expires_at: Option<i64>) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.insert(id, Pending { over_version, token, expires_at });
    }

    pub(crate) fn clear_pending(&self, id: i64) {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&id);
    }
}
