//! The keyring: where it comes from (setting, file, a file generated for a new database, or a
//! command's output) and the start-up checks that refuse a keyring that cannot open this database's
//! secrets: every key id the database has used must be in the keyring, and every key must open its
//! id's check value. A missing or empty key file is an error, never a reason to make a new key.
//! Rotation lives in the submodules: counting, re-sealing and retiring keys.

mod census;
mod reload;
mod rewrap;
mod rotate;
mod source;

pub use census::{Census, KeyUse, Overview, census, count_under, overview};
pub use reload::{at_start, check_rewrap_may_start, reload, settle_secs, settled, spawn_reload};
pub use rewrap::{Batch, Progress, RewrapOptions, RewrapSummary, Table, read_batch, rewrap, write_batch};
pub use rotate::{retire, rotate};
pub use source::{GENERATED_KEY_FILE, KeySource, run_command};

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;

use crate::config::Config;
use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::schema::{connections, encryption_key_ids, oauth_flows, services};
use crate::db::{Db, DbConn, is_unique_violation, write_tx};
use crate::error::AppError;

/// How many sealed values a key is tried on, when its id has no check value yet, before it is taken
/// to be the wrong key: one damaged value must not lock the right key out.
const MAX_TRIES: usize = 10;
/// Rows read at a time while looking for sealed values to try.
const PAGE: i64 = 500;

/// A secret column's value.
type Sealed = Option<Vec<u8>>;

/// The keyring from its source (see [`KeySource::of`]). The data folder's key file is generated
/// (mode 0600) only when it is missing and the database has never recorded a key id nor sealed
/// anything.
pub fn load_or_create(config: &Config, db: &Db) -> Result<Keyring, AppError> {
    load_from(config, db, true).map(|(_, keyring)| keyring)
}

/// The keyring and its source, for the `keys` commands: a missing key file is an error, never a
/// reason to make one.
pub fn load(config: &Config, db: &Db) -> Result<(KeySource, Keyring), AppError> {
    load_from(config, db, false)
}

fn load_from(config: &Config, db: &Db, may_generate: bool) -> Result<(KeySource, Keyring), AppError> {
    let bad = |source: &str, e: crate::crypto::CryptoError| AppError::Startup(format!("{source}: {e}"));
    let source = KeySource::of(config)?;
    let (path, generated) = match &source {
        KeySource::Setting => {
            let spec = config.encryption_keys.as_ref().map_or("", |s| s.expose());
            let keyring = Keyring::parse(spec).map_err(|e| bad("CONNECTIONS_ENCRYPTION_KEYS", e))?;
            return Ok((source, keyring));
        }
        KeySource::Command => {
            let command = config.encryption_keys_command.clone().unwrap_or_default();
            let timeout = std::time::Duration::from_secs(config.encryption_keys_command_timeout_secs);
            let spec = source::run_command(&command, timeout)?;
            let keyring = Keyring::parse(spec.expose().trim())
                .map_err(|e| bad("the output of CONNECTIONS_ENCRYPTION_KEYS_COMMAND", e))?;
            return Ok((source, keyring));
        }
        KeySource::File { path, generated } => (path.clone(), *generated),
    };
    let spec = match std::fs::read_to_string(&path) {
        Ok(spec) => spec,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let used = used_key_ids(db)?;
            if may_generate && generated && used.is_empty() && !holds_sealed(&mut *db.get()?)? {
                return Ok((source, generate(&path)?));
            }
            return Err(AppError::Startup(format!(
                "the key file {} is missing. {}",
                path.display(),
                needed_by(&used)
            )));
        }
        Err(e) => return Err(AppError::Startup(format!("cannot read key file {}: {e}", path.display()))),
    };
    let spec = Secret::new(spec);
    if spec.expose().trim().is_empty() {
        let used = used_key_ids(db)?;
        return Err(AppError::Startup(format!(
            "the key file {} is empty. {}",
            path.display(),
            needed_by(&used)
        )));
    }
    let keyring = Keyring::parse(spec.expose().trim()).map_err(|e| bad(&path.display().to_string(), e))?;
    Ok((source, keyring))
}

/// What to do about a key file that is missing or empty, for the start-up error.
fn needed_by(used: &[String]) -> String {
    let restore = "Restore the key file from your backup, or give the keyring with \
                   CONNECTIONS_ENCRYPTION_KEYS or CONNECTIONS_ENCRYPTION_KEYS_FILE. No new key was generated";
    if used.is_empty() {
        return format!("{restore}.");
    }
    format!(
        "This database's secrets were sealed with key id(s) {}, and nothing can open them without those \
         keys. {restore}: a new key would not open them. If the keys are truly lost, so are those \
         secrets: start with a new, empty database and data folder, and connect the connections again.",
        used.iter().map(|kid| format!("{kid:?}")).collect::<Vec<_>>().join(", ")
    )
}

fn generate(path: &Path) -> Result<Keyring, AppError> {
    let keyring = Keyring::generate("k1").map_err(|e| AppError::Startup(format!("key generation: {e}")))?;
    write_private(path, &keyring.to_spec())?;
    tracing::warn!(
        path = %path.display(),
        "generated a new encryption key file; back it up: secrets cannot be read without it"
    );
    Ok(keyring)
}

fn write_private(path: &Path, contents: &str) -> Result<(), AppError> {
    let fail =
        |e: std::io::Error| AppError::Startup(format!("cannot write key file {}: {e}", path.display()));
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

fn used_key_ids(db: &Db) -> Result<Vec<String>, AppError> {
    Ok(encryption_key_ids::table
        .select(encryption_key_ids::kid)
        .order(encryption_key_ids::kid)
        .load(&mut *db.get()?)?)
}

/// Whether any secret column holds a value.
fn holds_sealed(conn: &mut DbConn) -> QueryResult<bool> {
    use diesel::dsl::exists;
    let service = services::client_secret.is_not_null();
    let connection = connections::credentials
        .is_not_null()
        .or(connections::access_token.is_not_null())
        .or(connections::refresh_token.is_not_null())
        .or(connections::previous_refresh_token.is_not_null());
    Ok(diesel::select(exists(services::table.filter(service))).get_result(conn)?
        || diesel::select(exists(connections::table.filter(connection))).get_result(conn)?
        || diesel::select(exists(oauth_flows::table.select(oauth_flows::state_hash))).get_result(conn)?
        || crate::models::webhook::holds_sealed(conn)?
        || crate::models::smtp::holds_sealed(conn)?)
}

/// Refuses to start when the database holds secrets sealed under a key id this keyring lacks, or
/// when a key does not open its id's check value; then records the active key id (every secret
/// sealed from now on uses it) and the check values still missing. Nothing is written unless every
/// check passed.
pub fn check_database_key_ids(db: &Db, keyring: &Keyring, now: i64) -> Result<(), AppError> {
    let mut conn = db.get()?;
    // Two instances starting together on a new database may both record the active id: the one that
    // comes second checks again, now against the other's check value.
    match write_tx(&mut conn, |c| check_and_record(c, keyring, now)) {
        Err(AppError::Db(e)) if is_unique_violation(&e) => {
            write_tx(&mut conn, |c| check_and_record(c, keyring, now))
        }
        other => other,
    }
}

fn check_and_record(conn: &mut DbConn, keyring: &Keyring, now: i64) -> Result<(), AppError> {
    let recorded: Vec<(String, Sealed)> = encryption_key_ids::table
        .select((encryption_key_ids::kid, encryption_key_ids::check_value))
        .load(conn)?;
    if let Some((missing, _)) = recorded.iter().find(|(kid, _)| !keyring.has_kid(kid)) {
        return Err(AppError::Startup(format!(
            "the database holds secrets encrypted with key id {missing:?}, which the configured keyring \
             lacks (it has {:?}); add that key to CONNECTIONS_ENCRYPTION_KEYS",
            keyring.kids()
        )));
    }
    let mut unchecked = Vec::new();
    for (kid, check_value) in &recorded {
        let right = match check_value {
            Some(sealed) => keyring.opens_check_value(kid, sealed),
            None => {
                unchecked.push(kid.as_str());
                opens_stored_secrets(conn, keyring, kid)?
            }
        };
        if !right {
            return Err(AppError::Startup(format!(
                "the key configured as {kid:?} is not the key this database's secrets were sealed with (it \
                 does not open them): configure the original key {kid:?}, restoring the key file from your \
                 backup. Nothing was changed."
            )));
        }
    }
    for kid in unchecked {
        diesel::update(encryption_key_ids::table.find(kid))
            .set(encryption_key_ids::check_value.eq(keyring.seal_check_value(kid)?))
            .execute(conn)?;
    }
    let active = keyring.active_kid();
    if !recorded.iter().any(|(kid, _)| *kid == active) {
        diesel::insert_into(encryption_key_ids::table)
            .values((
                encryption_key_ids::kid.eq(&active),
                encryption_key_ids::first_used_at.eq(now),
                encryption_key_ids::check_value.eq(keyring.seal_check_value(&active)?),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// For a key id recorded before check values existed: whether the key opens the secrets sealed
/// under its id, newest rows first. True when one of them opens (or none names the id: there is
/// nothing to tell a wrong key by); false when every one tried, at most `MAX_TRIES`, fails.
fn opens_stored_secrets(conn: &mut DbConn, keyring: &Keyring, kid: &str) -> Result<bool, AppError> {
    let mut probe = Probe { keyring, kid, tried: 0 };
    let mut before = i64::MAX;
    loop {
        let page: Vec<(i64, Sealed, Sealed, Sealed)> = connections::table
            .filter(connections::id.lt(before))
            .order(connections::id.desc())
            .select((
                connections::id,
                connections::credentials,
                connections::access_token,
                connections::refresh_token,
            ))
            .limit(PAGE)
            .load(conn)?;
        for (id, credentials, access, refresh) in &page {
            let row = id.to_string();
            for (column, sealed) in
                [("credentials", credentials), ("access_token", access), ("refresh_token", refresh)]
            {
                if let Some(verdict) =
                    probe.offer(&SecretSlot::new("connections", column, &row), sealed.as_deref())
                {
                    return Ok(verdict);
                }
            }
        }
        match page.last() {
            Some((id, ..)) if page.len() as i64 == PAGE => before = *id,
            _ => break,
        }
    }
    let mut before = i64::MAX;
    loop {
        let page: Vec<(i64, Sealed)> = services::table
            .filter(services::id.lt(before))
            .order(services::id.desc())
            .select((services::id, services::client_secret))
            .limit(PAGE)
            .load(conn)?;
        for (id, sealed) in &page {
            if let Some(verdict) =
                probe.offer(&SecretSlot::new("services", "client_secret", &id.to_string()), sealed.as_deref())
            {
                return Ok(verdict);
            }
        }
        match page.last() {
            Some((id, ..)) if page.len() as i64 == PAGE => before = *id,
            _ => break,
        }
    }
    // Flows in progress live ten minutes: the newest few are enough.
    let flows: Vec<(String, Vec<u8>)> = oauth_flows::table
        .order(oauth_flows::created_at.desc())
        .select((oauth_flows::state_hash, oauth_flows::pkce_verifier))
        .limit(PAGE)
        .load(conn)?;
    for (state_hash, sealed) in &flows {
        if let Some(verdict) =
            probe.offer(&SecretSlot::new("oauth_flows", "pkce_verifier", state_hash), Some(sealed))
        {
            return Ok(verdict);
        }
    }
    Ok(probe.tried == 0)
}

/// Tries one key on the sealed values offered to it.
struct Probe<'a> {
    keyring: &'a Keyring,
    kid: &'a str,
    tried: usize,
}

impl Probe<'_> {
    /// `Some(true)`: the key opened this value; `Some(false)`: it has now failed `MAX_TRIES` times;
    /// `None`: go on (no value, or one under another key id).
    fn offer(&mut self, slot: &SecretSlot, sealed: Option<&[u8]>) -> Option<bool> {
        let sealed = sealed.filter(|s| Keyring::key_id_of(s).is_ok_and(|kid| kid == self.kid))?;
        if self.keyring.open(slot, sealed).is_ok() {
            return Some(true);
        }
        self.tried += 1;
        (self.tried >= MAX_TRIES).then_some(false)
    }
}
