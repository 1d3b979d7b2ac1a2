//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): a secret `whsec_` + base64
//! of random bytes; a delivery carries `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by the
//! secret's bytes after the prefix. Receivers verify with any of the convention's libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::crypto::Secret;
use crate::error::AppError;

pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the convention takes 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new signing secret.
pub fn new_secret() -> Result<Secret, AppError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("random number generator: {e}")))?;
    Ok(Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))))
}

/// The `webhook-signature` value of `body` sent as message `id` at `timestamp`.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &str) -> Result<String, AppError> {
    let encoded = secret.expose().strip_prefix(SECRET_PREFIX).unwrap_or(secret.expose());
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| AppError::Internal("a webhook signing secret is not base64".into()))?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference libraries.
    #[test]
    fn signs_the_conventions_example() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signed = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signed.unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_are_prefixed_random_and_usable() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.expose().starts_with("whsec_") && a != b);
        assert_eq!(STANDARD.decode(&a.expose()[6..]).unwrap().len(), SECRET_BYTES);
        assert_ne!(sign(&a, "msg_1", 1, "{}").unwrap(), sign(&b, "msg_1", 1, "{}").unwrap());
        assert_ne!(sign(&a, "msg_1", 1, "{}").unwrap(), sign(&a, "msg_1", 2, "{}").unwrap());
    }
}
