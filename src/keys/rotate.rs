//! `keys rotate` and `keys retire`: the two commands that change the key file. Each first checks the
//! keyring against the database (as start-up does), and orders its two writes so that a crash
//! between them leaves a keyring every instance can still start with: the file gains a key before
//! the database records its id, and the database forgets an id before the file loses its key. Both
//! hold the key file's lock from reading the keyring to writing it. Both are operators' commands,
//! recorded in the audit log as `cli`.

use diesel::prelude::*;

use super::census::count_under;
use super::source::{KeyFileLock, replace_key_file};
use super::{check_database_key_ids, load};
use crate::config::Config;
use crate::crypto::Secret;
use crate::db::schema::encryption_key_ids;
use crate::db::{Db, write_tx};
use crate::error::AppError;
use crate::models::audit::{self, By};

/// Generates a new key, writes it into the key file as the active key (keeping the others) and
/// records its id and check value. Returns what to tell the operator.
pub fn rotate(config: &Config, db: &Db, now: i64) -> Result<String, AppError> {
    let (source, _) = load(config, db)?;
    let path = source.writable_file("rotate")?.to_path_buf();
    let _lock = KeyFileLock::take(&path)?;
    let (_, keyring) = load(config, db)?;
    check_database_key_ids(db, &keyring, now)?;
    let kid = keyring.next_kid();
    let rotated = keyring.with_new_active(&kid)?;
    replace_key_file(&path, &Secret::new(rotated.to_spec()))?;
    check_database_key_ids(db, &rotated, now)?;
    let details = serde_json::json!({ "active": kid, "kept": keyring.kids() });
    audit::record(&mut *db.get()?, By::CLI.event("key.rotate", "encryption_key", &kid, details), now)?;
    let next = match config.encryption_keys_reload_secs {
        0 => format!(
            "restart every instance so that it seals with {kid} and opens what others seal with it, then \
             run `connections keys rewrap --restarted`"
        ),
        reload => format!(
            "running instances take {kid} up within {reload} s and seal with it from {}; run \
             `connections keys rewrap` then (or at once with --restarted after restarting every instance)",
            crate::clock::format_time(now.saturating_add(super::settle_secs(reload)))
        ),
    };
    Ok(format!(
        "{kid} is now the active key in {} (kept: {}).\nNext: {next}.\nBack up the key file now: \
         without it the secrets sealed with {kid} cannot be read.",
        path.display(),
        keyring.kids().join(", ")
    ))
}

/// Removes the key `kid` from the key file and its id from the database; refused while it is the
/// active key or still seals any value.
pub fn retire(config: &Config, db: &Db, kid: &str, now: i64) -> Result<String, AppError> {
    let (source, _) = load(config, db)?;
    let path = source.writable_file("retire a key")?.to_path_buf();
    let _lock = KeyFileLock::take(&path)?;
    let (_, keyring) = load(config, db)?;
    check_database_key_ids(db, &keyring, now)?;
    if !keyring.has_kid(kid) {
        return Err(AppError::BadRequest(format!(
            "the keyring has no key {kid:?} (it has {})",
            keyring.kids().join(", ")
        )));
    }
    let Some(smaller) = keyring.without(kid) else {
        return Err(AppError::BadRequest(format!(
            "{kid:?} is the active key: every new secret is sealed with it. Run `connections keys rotate` \
             and `connections keys rewrap` first, then retire it. Nothing was changed."
        )));
    };
    write_tx(&mut *db.get()?, |c| {
        let sealed = count_under(c, kid)?;
        if sealed > 0 {
            return Err(AppError::BadRequest(format!(
                "{kid:?} still seals {sealed} value(s): run `connections keys rewrap` until \
                 `connections keys status` shows none under it. Nothing was changed."
            )));
        }
        diesel::delete(encryption_key_ids::table.find(kid)).execute(c)?;
        let details = serde_json::json!({ "left": smaller.kids() });
        audit::record(c, By::CLI.event("key.retire", "encryption_key", kid, details), now)?;
        Ok(())
    })?;
    replace_key_file(&path, &Secret::new(smaller.to_spec()))?;
    Ok(format!(
        "{kid} is retired: removed from {} (left: {}). Restart every instance so that none holds it \
         any more.",
        path.display(),
        smaller.kids().join(", ")
    ))
}
