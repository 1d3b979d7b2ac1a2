//! Secrets at rest: the keyring, sealing with associated data, and the `Secret` wrapper.
//!
//! Every secret column holds `seal`ed bytes: AES-256-GCM under the keyring's active key,
//! with the table, column and row bound in as associated data so a ciphertext copied to
//! another row (or column, or table) no longer opens.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Format version written as the first byte of every sealed value.
const VERSION: u8 = 0x01;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KID_LEN: usize = 32;
/// Domain-separation prefix of the associated data; bump it if the AAD layout ever changes.
const AAD_PREFIX: &[u8] = b"connections/v1\0";
/// The known plaintext of every key id's check value.
const CHECK_PLAINTEXT: &[u8] = b"connections key check value";

/// Standard alphabet; key files written by hand may or may not carry `=` padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Errors from parsing keyrings and sealing or opening secrets.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The keyring spec is unusable; the message never contains key material.
    #[error("invalid keyring: {0}")]
    InvalidKeyring(String),
    /// The sealed value names a key id this keyring does not hold.
    #[error("unknown encryption key id {0:?}")]
    UnknownKeyId(String),
    /// The sealed value is too short or its header is not understood.
    #[error("malformed ciphertext")]
    Malformed,
    /// Authentication failed.
    #[error("decryption failed: wrong key, tampered data, or data moved from another row")]
    Decrypt,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// A slot's table or column contains NUL, which would make the associated data ambiguous.
    #[error("invalid secret slot: table and column must not contain NUL")]
    InvalidSlot,
}

/// A plaintext secret in memory; `Debug` and `Display` print `[redacted]`.
///
/// The buffer is overwritten on drop (best-effort: earlier reallocations and copies made
/// by callers are not covered). Equality is not constant-time; do not use it to check
/// user-supplied credentials.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plaintext secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The plaintext; call only where the value is actually used (e.g. an outgoing header).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Unwraps the plaintext, giving up the zero-on-drop protection.
    pub fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
    }
    /// True if the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // `into_bytes` reuses the allocation, so this wipes the bytes without `unsafe`.
        wipe(&mut std::mem::take(&mut self.0).into_bytes());
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a sealed secret lives; used as the associated data so ciphertexts cannot be moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSlot<'a> {
    /// Table name, e.g. `"connections"`.
    pub table: &'a str,
    /// Column name, e.g. `"client_secret"`.
    pub column: &'a str,
    /// The row's stable identifier (primary key as text).
    pub row: &'a str,
}

impl<'a> SecretSlot<'a> {
    /// Shorthand constructor.
    pub const fn new(table: &'a str, column: &'a str, row: &'a str) -> Self {
        Self { table, column, row }
    }

    /// `b"connections/v1\0" + table + "\0" + column + "\0" + row`.
    ///
    /// NUL-separated fields are unambiguous only if the separator cannot occur inside a
    /// field, so table and column (code identifiers) must be NUL-free; the row is last,
    /// so whatever it contains cannot shift the earlier boundaries.
    fn aad(&self) -> Result<Vec<u8>, CryptoError> {
        if self.table.contains('\0') || self.column.contains('\0') {
            return Err(CryptoError::InvalidSlot);
        }
        let mut aad = AAD_PREFIX.to_vec();
        for (i, part) in [self.table, self.column, self.row].into_iter().enumerate() {
            if i > 0 {
                aad.push(0);
            }
            aad.extend_from_slice(part.as_bytes());
        }
        Ok(aad)
    }
}

/// One named key. The bytes are overwritten on drop: best-effort only, since the cipher's
/// expanded key schedule and compiler-made copies are not covered.
#[derive(Clone)]
struct Key {
    kid: String,
    bytes: [u8; KEY_LEN],
}

impl Drop for Key {
    fn drop(&mut self) {
        wipe(&mut self.bytes);
    }
}

/// Overwrites a buffer; `black_box` discourages the optimiser from eliding the dead store.
pub(crate) fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

fn valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The encryption keys: the first seals new data, all of them open old data (rotation).
///
/// Clones share their keys, so that a running instance can take up a changed keyring everywhere at
/// once ([`Self::adopt`]); the methods that derive a keyring return one of its own.
#[derive(Clone)]
pub struct Keyring {
    /// Never empty; `[0]` is the active key.
    keys: Arc<RwLock<Arc<[Key]>>>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("active", &self.active_kid()).field("kids", &self.kids()).finish()
    }
}

impl Keyring {
    /// Parse "kid:base64(32 bytes),kid2:base64(...)" — comma-separated, whitespace around
    /// entries ignored, first = active. Key ids are 1-32 chars of `[A-Za-z0-9_-]`, duplicates
    /// are rejected, and each key must decode (standard base64, padded or not) to 32 bytes.
    pub fn parse(spec: &str) -> Result<Keyring, CryptoError> {
        let bad = CryptoError::InvalidKeyring;
        if spec.trim().is_empty() {
            return Err(bad("no keys given".into()));
        }
        let mut keys: Vec<Key> = Vec::new();
        for (i, entry) in spec.split(',').map(str::trim).enumerate() {
            let n = i + 1;
            // Error messages name entries by position and echo only validated key ids:
            // anything else in the spec might be key material.
            let (kid, b64) = entry
                .split_once(':')
                .ok_or_else(|| bad(format!("entry {n} is not of the form kid:base64key")))?;
            if !valid_kid(kid) {
                return Err(bad(format!("entry {n}: key id must be 1-32 chars of [A-Za-z0-9_-]")));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(bad(format!("duplicate key id {kid:?}")));
            }
            let mut decoded = B64.decode(b64).map_err(|_| bad(format!("key {kid:?} is not valid base64")))?;
            let bytes = <[u8; KEY_LEN]>::try_from(decoded.as_slice());
            wipe(&mut decoded);
            let bytes = bytes.map_err(|_| bad(format!("key {kid:?} must decode to 32 bytes")))?;
            keys.push(Key { kid: kid.to_owned(), bytes });
        }
        Ok(Keyring::from_keys(keys))
    }

    fn from_keys(keys: Vec<Key>) -> Keyring {
        Keyring { keys: Arc::new(RwLock::new(keys.into())) }
    }

    /// The keys as they are now.
    fn ring(&self) -> Arc<[Key]> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes up `other`'s keys, in every clone of this keyring.
    pub fn adopt(&self, other: &Keyring) {
        let keys = other.ring();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// A new keyring with one random key with the given id; write it out with [`Self::to_spec`].
    pub fn generate(kid: &str) -> Result<Keyring, CryptoError> {
        if !valid_kid(kid) {
            return Err(CryptoError::InvalidKeyring("key id must be 1-32 chars of [A-Za-z0-9_-]".into()));
        }
        let mut key = Key { kid: kid.to_owned(), bytes: [0; KEY_LEN] };
        getrandom::fill(&mut key.bytes).map_err(|_| CryptoError::Rng)?;
        Ok(Keyring::from_keys(vec![key]))
    }

    /// The spec string, padded base64. Contains key material: used only to write the key file.
    pub fn to_spec(&self) -> String {
        let entries: Vec<String> =
            self.ring().iter().map(|k| format!("{}:{}", k.kid, B64.encode(k.bytes))).collect();
        entries.join(",")
    }

    /// This keyring with a new random key `kid` in front: the new key seals new data, the others
    /// still open what they sealed.
    pub fn with_new_active(&self, kid: &str) -> Result<Keyring, CryptoError> {
        if self.has_kid(kid) {
            return Err(CryptoError::InvalidKeyring(format!("duplicate key id {kid:?}")));
        }
        let new = Keyring::generate(kid)?.ring();
        Ok(Keyring::from_keys(new.iter().chain(self.ring().iter()).cloned().collect()))
    }

    /// This keyring with the key `kid` moved in front, as the active key; `None` without that key.
    pub fn with_active(&self, kid: &str) -> Option<Keyring> {
        let ring = self.ring();
        let first = ring.iter().find(|k| k.kid == kid)?;
        let rest = ring.iter().filter(|k| k.kid != kid);
        Some(Keyring::from_keys(std::iter::once(first).chain(rest).cloned().collect()))
    }

    /// This keyring without the key `kid`; `None` when that is the active key or not in the keyring.
    pub fn without(&self, kid: &str) -> Option<Keyring> {
        if self.active_kid() == kid || !self.has_kid(kid) {
            return None;
        }
        Some(Keyring::from_keys(self.ring().iter().filter(|k| k.kid != kid).cloned().collect()))
    }

    /// A key id not in the keyring: `k` and the number after the highest `k<number>` id.
    pub fn next_kid(&self) -> String {
        let highest = self.ring().iter().filter_map(|k| k.kid.strip_prefix('k')?.parse::<u32>().ok()).max();
        format!("k{}", highest.unwrap_or(0) + 1)
    }

    /// Id of the key that seals new data.
    pub fn active_kid(&self) -> String {
        self.ring()[0].kid.clone()
    }

    /// Whether the keyring holds a key with this id.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.ring().iter().any(|k| k.kid == kid)
    }

    /// All key ids, active first.
    pub fn kids(&self) -> Vec<String> {
        self.ring().iter().map(|k| k.kid.clone()).collect()
    }

    /// Seal: returns bytes in a versioned format:
    /// `[version byte 0x01][kid length u8][kid bytes][12-byte random nonce][ciphertext+tag]`.
    pub fn seal(&self, slot: &SecretSlot, plaintext: &Secret) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.ring()[0], slot, plaintext.expose().as_bytes())
    }

    /// Opens a value sealed for exactly this slot under any key in the keyring.
    pub fn open(&self, slot: &SecretSlot, sealed: &[u8]) -> Result<Secret, CryptoError> {
        let (kid, nonce, body) = parse_header(sealed)?;
        let ring = self.ring();
        let key =
            ring.iter().find(|k| k.kid == kid).ok_or_else(|| CryptoError::UnknownKeyId(kid.to_owned()))?;
        let aad = slot.aad()?;
        let cipher = Aes256Gcm::new((&key.bytes).into());
        let plain = cipher
            .decrypt(nonce.into(), Payload { msg: body, aad: &aad })
            .map_err(|_| CryptoError::Decrypt)?;
        // Authentic but not UTF-8 means it was not written by `seal`.
        String::from_utf8(plain).map(Secret).map_err(|e| {
            wipe(&mut e.into_bytes());
            CryptoError::Malformed
        })
    }

    /// The check value of the key `kid` (not necessarily the active one): a known plaintext sealed
    /// under it for its own slot, stored so that start-up can tell whether a configured key is the
    /// one the database's secrets were sealed with.
    pub fn seal_check_value(&self, kid: &str) -> Result<Vec<u8>, CryptoError> {
        let ring = self.ring();
        let key =
            ring.iter().find(|k| k.kid == kid).ok_or_else(|| CryptoError::UnknownKeyId(kid.to_owned()))?;
        seal_with(key, &check_slot(kid), CHECK_PLAINTEXT)
    }

    /// Whether this keyring's key `kid` opens a check value stored for `kid`.
    pub fn opens_check_value(&self, kid: &str, sealed: &[u8]) -> bool {
        Self::key_id_of(sealed).is_ok_and(|named| named == kid)
            && self
                .open(&check_slot(kid), sealed)
                .is_ok_and(|plain| plain.expose().as_bytes() == CHECK_PLAINTEXT)
    }

    /// The first bytes of every value sealed under `kid` (version, id length, id): a query compares
    /// a column's first bytes with them to find or count the values sealed under that key.
    pub fn header_of(kid: &str) -> Vec<u8> {
        let mut header = vec![VERSION, kid.len().min(usize::from(u8::MAX)) as u8];
        header.extend_from_slice(kid.as_bytes());
        header
    }

    /// Parse only the header to read the key id (used at start-up to refuse a keyring that
    /// lacks a key id present in the database).
    pub fn key_id_of(sealed: &[u8]) -> Result<String, CryptoError> {
        parse_header(sealed).map(|(kid, _, _)| kid.to_owned())
    }
}

/// Seals `msg` under `key`; see [`Keyring::seal`] for the format.
fn seal_with(key: &Key, slot: &SecretSlot, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let aad = slot.aad()?;
    // Random 96-bit nonces: safe for far more than 2^32 seals per key, far beyond our use.
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Rng)?;
    let cipher = Aes256Gcm::new((&key.bytes).into());
    // Encryption fails only for inputs beyond GCM's ~64 GiB limit.
    let body =
        cipher.encrypt((&nonce).into(), Payload { msg, aad: &aad }).map_err(|_| CryptoError::Malformed)?;
    let kid = key.kid.as_bytes();
    let mut out = Vec::with_capacity(2 + kid.len() + NONCE_LEN + body.len());
    out.push(VERSION);
    out.push(kid.len() as u8); // valid_kid guarantees <= 32
    out.extend_from_slice(kid);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Where a key id's check value lives, as associated data: it binds the value to its key id.
fn check_slot(kid: &str) -> SecretSlot<'_> {
    SecretSlot::new("encryption_key_ids", "check_value", kid)
}

/// Splits a sealed value into key id, nonce and ciphertext+tag, checking lengths so that no
/// truncated input can reach the cipher or cause a panic.
fn parse_header(sealed: &[u8]) -> Result<(&str, &[u8; NONCE_LEN], &[u8]), CryptoError> {
    let [version, kid_len, rest @ ..] = sealed else {
        return Err(CryptoError::Malformed);
    };
    if *version != VERSION {
        return Err(CryptoError::Malformed);
    }
    let (kid, rest) = rest.split_at_checked(usize::from(*kid_len)).ok_or(CryptoError::Malformed)?;
    let kid = std::str::from_utf8(kid).map_err(|_| CryptoError::Malformed)?;
    if !valid_kid(kid) {
        return Err(CryptoError::Malformed);
    }
    let (nonce, body) = rest.split_first_chunk::<NONCE_LEN>().ok_or(CryptoError::Malformed)?;
    if body.len() < TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    Ok((kid, nonce, body))
}

#[cfg(test)]
mod tests;
