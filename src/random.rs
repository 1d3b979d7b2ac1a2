//! Random identifiers and their hashes: session ids, CSRF tokens, API tokens, OAuth states.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// `bytes` random bytes, base64url without padding (32 bytes → 43 characters, 256 bits).
pub fn random_urlsafe(bytes: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random number generator: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Hex SHA-256: how session ids and API tokens are stored (the values themselves are 256-bit random,
/// so a fast hash is enough; a database leak does not reveal a usable token).
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Constant-time equality for tokens, so a comparison does not leak how many leading bytes matched.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Prefix of every API token, so that secret scanners and people recognise one.
pub const API_TOKEN_PREFIX: &str = "cn_";

/// A new API token and the short prefix shown in lists.
pub fn new_api_token() -> Result<(String, String), AppError> {
    let token = format!("{API_TOKEN_PREFIX}{}", random_urlsafe(32)?);
    let shown = token.chars().take(API_TOKEN_PREFIX.len() + 6).collect();
    Ok((token, shown))
}

#[cfg(test)]
mod tests;
