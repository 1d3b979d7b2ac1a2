//! Nonces for links that start something (the Connect link that sends the browser to a provider):
//! `<expiry>.<random>.<HMAC-SHA256>` keyed with the session's CSRF secret over a purpose, a target,
//! the expiry and the random part (so that two pages shown in the same second differ). The CSRF
//! token itself never goes into a URL, where browser history and proxy logs keep it; a nonce names
//! one action on one target for one session, expires within the hour, and is spent on use
//! (`models::nonce`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::AppError;
use crate::random::random_urlsafe;

/// How long a link stays usable after its page was shown.
pub const LIFETIME_SECS: i64 = 3600;

/// Separates this use of the session secret from any other.
const DOMAIN: &[u8] = b"connections/nonce/v1";

fn tag(key: &str, purpose: &str, target: &str, expires_at: i64, salt: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    for part in
        [DOMAIN, purpose.as_bytes(), target.as_bytes(), expires_at.to_string().as_bytes(), salt.as_bytes()]
    {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// A nonce for `purpose` on `target`, valid for `LIFETIME_SECS` from `now`.
pub fn issue(key: &str, purpose: &str, target: &str, now: i64) -> Result<String, AppError> {
    let expires_at = now + LIFETIME_SECS;
    let salt = random_urlsafe(16)?;
    let mac = tag(key, purpose, target, expires_at, &salt).finalize().into_bytes();
    Ok(format!("{expires_at}.{salt}.{}", URL_SAFE_NO_PAD.encode(mac)))
}

/// When `nonce` expires, if it was issued with `key` for `purpose` on `target` and is still valid.
pub fn verify(key: &str, purpose: &str, target: &str, nonce: &str, now: i64) -> Option<i64> {
    let mut parts = nonce.splitn(3, '.');
    let (expires_at, salt, sent) = (parts.next()?, parts.next()?, parts.next()?);
    let expires_at: i64 = expires_at.parse().ok()?;
    if expires_at <= now || expires_at > now + LIFETIME_SECS {
        return None;
    }
    let sent = URL_SAFE_NO_PAD.decode(sent).ok()?;
    tag(key, purpose, target, expires_at, salt).verify_slice(&sent).ok()?;
    Some(expires_at)
}

#[cfg(test)]
mod tests;
