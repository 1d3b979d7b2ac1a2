//! Where the keyring comes from (setting, file, or a generated file on first start) and the start-up
//! check that refuses a keyring missing a key id the database has used.

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;

use crate::config::Config;
use crate::crypto::Keyring;
use crate::db::Db;
use crate::db::schema::encryption_key_ids;
use crate::error::AppError;

/// File name of the generated keyring inside the data folder.
pub const GENERATED_KEY_FILE: &str = "encryption.keys";

/// The keyring from `CONNECTIONS_ENCRYPTION_KEYS`, else `CONNECTIONS_ENCRYPTION_KEYS_FILE`, else the
/// data folder's key file, generated (mode 0600) when missing.
pub fn load_or_create(config: &Config) -> Result<Keyring, AppError> {
    let bad = |source: &str, e: crate::crypto::CryptoError| AppError::Startup(format!("{source}: {e}"));
    if let Some(spec) = &config.encryption_keys {
        return Keyring::parse(spec.expose()).map_err(|e| bad("CONNECTIONS_ENCRYPTION_KEYS", e));
    }
    if let Some(path) = &config.encryption_keys_file {
        let spec = std::fs::read_to_string(path).map_err(|e| AppError::Startup(format!("cannot read key file {}: {e}", path.display())))?;
        return Keyring::parse(spec.trim()).map_err(|e| bad(&path.display().to_string(), e));
    }
    let path = config.data_dir.join(GENERATED_KEY_FILE);
    if path.exists() {
        let spec =
            std::fs::read_to_string(&path).map_err(|e| AppError::Startup(format!("cannot read key file {}: {e}", path.display())))?;
        return Keyring::parse(spec.trim()).map_err(|e| bad(&path.display().to_string(), e));
    }
    let keyring = Keyring::generate("k1").map_err(|e| bad("key generation", e))?;
    write_private(&path, &keyring.to_spec())?;
    tracing::warn!(path = %path.display(), "generated a new encryption key file; back it up: secrets cannot be read without it");
    Ok(keyring)
}

fn write_private(path: &Path, contents: &str) -> Result<(), AppError> {
    let fail = |e: std::io::Error| AppError::Startup(format!("cannot write key file {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_dir(dir).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(format!("{contents}\n").as_bytes()).map_err(fail)
}

/// Refuses to start when the database holds secrets sealed under a key id this keyring lacks, then
/// records the active key id (every secret sealed from now on uses it).
pub fn check_database_key_ids(db: &Db, keyring: &Keyring, now: i64) -> Result<(), AppError> {
    let mut conn = db.get()?;
    let used: Vec<String> = encryption_key_ids::table.select(encryption_key_ids::kid).load(&mut *conn)?;
    if let Some(missing) = used.iter().find(|kid| !keyring.has_kid(kid)) {
        return Err(AppError::Startup(format!(
            "the database holds secrets encrypted with key id {missing:?}, which the configured keyring lacks \
             (it has {:?}); add that key to CONNECTIONS_ENCRYPTION_KEYS",
            keyring.kids()
        )));
    }
    let active = keyring.active_kid();
    if !used.iter().any(|kid| kid == active) {
        diesel::insert_into(encryption_key_ids::table)
            .values((encryption_key_ids::kid.eq(active), encryption_key_ids::first_used_at.eq(now)))
            .execute(&mut *conn)?;
    }
    Ok(())
}
