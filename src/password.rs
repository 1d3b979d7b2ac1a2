//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane) on the blocking pool,
//! with bounded concurrency so a burst of sign-ins cannot exhaust memory or starve other requests.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::Semaphore;

use crate::crypto::Secret;
use crate::error::AppError;

/// Shortest password accepted for a new or changed password.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hashes a password (blocking; the CLI calls it directly).
pub fn hash_blocking(password: &Secret) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the PHC string `hash` (blocking).
pub fn verify_blocking(password: &Secret, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash of a random password, verified against for unknown users so that their sign-in takes as
/// long as a known user's and the response time does not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = crate::random::random_urlsafe(24).unwrap_or_else(|_| "fallback-dummy-password".into());
        hash_blocking(&Secret::new(random)).unwrap_or_default()
    })
}

/// Checks a new password against the policy; the message is shown to the person choosing it.
pub fn check_policy(password: &Secret) -> Result<(), String> {
    let chars = password.expose().chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(format!("Use at least {MIN_PASSWORD_LEN} characters."));
    }
    if chars > 1024 {
        return Err("Use at most 1024 characters.".to_owned());
    }
    Ok(())
}

/// Runs hashing on the blocking pool, a few at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrency.max(1))) }
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is no user.
    pub async fn verify(&self, password: Secret, hash: Option<String>) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(|e| AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => verify_blocking(&password, &h),
            None => {
                verify_blocking(&password, dummy_hash());
                false
            }
        })
        .await
        .map_err(|e| AppError::Internal(format!("password task failed: {e}")))
    }

    /// Hashes a new password, on the blocking pool like `verify`.
    pub async fn hash(&self, password: Secret) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(|e| AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| AppError::Internal(format!("password task failed: {e}")))?
    }

    /// Prepares the dummy hash off the request path.
    pub async fn warm_up(&self) {
        let _ = tokio::task::spawn_blocking(dummy_hash).await;
    }
}

#[cfg(test)]
mod tests;
