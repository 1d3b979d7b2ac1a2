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

/// What a generated password is made of: letters and digits that cannot be misread for one
/// another (no `0`/`O`, `1`/`l`/`I`), so it can be read out or typed from a screen.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A password for an administrator to hand over: four groups of five characters of
/// `PASSWORD_ALPHABET` joined by `-` (about 115 bits), drawn without bias by rejection sampling.
pub fn readable_password() -> Result<String, AppError> {
    let n = PASSWORD_ALPHABET.len();
    // The largest multiple of `n` that fits in a byte: bytes at or above it are drawn again.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(23);
    let mut buf = [0u8; 64];
    let mut drawn = 0;
    while drawn < 20 {
        getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random number generator: {e}")))?;
        for &byte in buf.iter().filter(|&&b| usize::from(b) < limit) {
            if drawn == 20 {
                break;
            }
            if drawn > 0 && drawn % 5 == 0 {
                out.push('-');
            }
            out.push(char::from(PASSWORD_ALPHABET[usize::from(byte) % n]));
            drawn += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
