//! `keys rewrap`: re-seals every secret that is not under the active key, while the app serves.
//!
//! It reads a batch of rows holding a value under another key, opens and re-seals those values
//! outside any transaction, then writes the batch in one short transaction of compare-and-set
//! updates: a value is replaced only while the column still holds exactly the ciphertext that was
//! read. A refresh, reconnect or edit that wrote the column meanwhile wins, and that value is left
//! for the next pass (this run makes a few). Nothing else in the row is touched, so the token
//! version that refreshes coordinate on is unchanged. Every value is at each moment sealed under
//! the old key or the new one, both in the keyring, so a run stopped anywhere loses nothing and the
//! next run carries on from what is left.

use std::collections::BTreeSet;

use diesel::prelude::*;

use super::census::substr;
use crate::crypto::{Keyring, SecretSlot};
use crate::db::schema::{connections, oauth_flows, services};
use crate::db::{DbConn, write_tx};
use crate::error::AppError;

/// How many times the whole database is gone through while values keep changing under the run.
const MAX_PASSES: u32 = 3;

/// Receives one line of progress per batch written.
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// How a run proceeds.
#[derive(Debug, Clone, Copy)]
pub struct RewrapOptions {
    /// Rows read and written per transaction.
    pub batch_size: i64,
    /// Stop after this many batches (`None`: when nothing is left).
    pub max_batches: Option<u64>,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct RewrapSummary {
    /// Values re-sealed under the active key.
    pub resealed: u64,
    /// Values that changed between the read and the write, and were left as their writer left them.
    pub changed_meanwhile: u64,
    /// Values no key in the keyring opens (damaged, or moved from another row), by place: table,
    /// column and row, never the value.
    pub unreadable: BTreeSet<String>,
    /// Transactions written.
    pub batches: u64,
    /// The run stopped at `max_batches`.
    pub stopped_early: bool,
}

/// One value to replace: where, the ciphertext read, and its replacement.
struct Change<K> {
    key: K,
    column: &'static str,
    old: Vec<u8>,
    new: Vec<u8>,
}

/// The state of a run.
struct Run<'a, 'p> {
    keyring: &'a Keyring,
    header: Vec<u8>,
    options: RewrapOptions,
    summary: RewrapSummary,
    progress: Progress<'p>,
}

/// Re-seals every value not under the keyring's active key; see the module documentation.
pub fn rewrap(
    conn: &mut DbConn,
    keyring: &Keyring,
    options: RewrapOptions,
    progress: Progress,
) -> Result<RewrapSummary, AppError> {
    let options = RewrapOptions { batch_size: options.batch_size.clamp(1, 10_000), ..options };
    let header = Keyring::header_of(keyring.active_kid());
    let mut run = Run { keyring, header, options, summary: RewrapSummary::default(), progress };
    for _ in 0..MAX_PASSES {
        let conflicts = run.summary.changed_meanwhile;
        if services_pass(conn, &mut run)? || connections_pass(conn, &mut run)? || flows_pass(conn, &mut run)? {
            run.summary.stopped_early = true;
            break;
        }
        if run.summary.changed_meanwhile == conflicts {
            break;
        }
    }
    Ok(run.summary)
}

impl Run<'_, '_> {
    /// `sealed` re-sealed under the active key; `None` when it is absent, already under the active
    /// key, or opens under no key (then noted as unreadable).
    fn reseal(&mut self, slot: SecretSlot, sealed: Option<&Vec<u8>>) -> Result<Option<Vec<u8>>, AppError> {
        let Some(old) = sealed.filter(|s| !s.starts_with(&self.header)) else {
            return Ok(None);
        };
        match self.keyring.open(&slot, old) {
            Ok(secret) => Ok(Some(self.keyring.seal(&slot, &secret)?)),
            Err(_) => {
                self.summary.unreadable.insert(format!("{}.{} of row {}", slot.table, slot.column, slot.row));
                Ok(None)
            }
        }
    }

    /// Counts a written batch and reports it; true when the run must stop here.
    fn batch_written(&mut self, table: &str, tried: usize, written: usize) -> bool {
        let meanwhile = tried - written;
        self.summary.batches += 1;
        self.summary.resealed += written as u64;
        self.summary.changed_meanwhile += meanwhile as u64;
        let note = match meanwhile {
            0 => String::new(),
            n => format!(", {n} changed meanwhile and left to their writer"),
        };
        (self.progress)(&format!(
            "batch {}: {table}: {written} value(s) re-sealed under {}{note}",
            self.summary.batches,
            self.keyring.active_kid()
        ));
        self.options.max_batches.is_some_and(|max| self.summary.batches >= max)
    }
}

/// Replaces `$table.$column` of the change's row only while it still holds the ciphertext read.
macro_rules! compare_and_set {
    ($conn:expr, $table:ident, $key:ident, $change:expr, $column:ident) => {
        diesel::update(
            $table::table
                .filter($table::$key.eq(&$change.key))
                .filter($table::$column.eq($change.old.as_slice())),
        )
        .set($table::$column.eq($change.new.as_slice()))
        .execute($conn)?
    };
}

fn services_pass(conn: &mut DbConn, run: &mut Run) -> Result<bool, AppError> {
    let (header, len) = (run.header.clone(), run.header.len() as i32);
    let mut after = i64::MIN;
    loop {
        let page: Vec<(i64, Option<Vec<u8>>)> = services::table
            .filter(services::id.gt(after))
            .filter(substr(services::client_secret, 1, len).ne(header.clone()))
            .order(services::id)
            .limit(run.options.batch_size)
            .select((services::id, services::client_secret))
            .load(conn)?;
        let Some((last, _)) = page.last() else { return Ok(false) };
        after = *last;
        let mut changes = Vec::new();
        for (id, sealed) in &page {
            let row = id.to_string();
            if let Some(new) = run.reseal(SecretSlot::new("services", "client_secret", &row), sealed.as_ref())? {
                let old = sealed.clone().unwrap_or_default();
                changes.push(Change { key: *id, column: "client_secret", old, new });
            }
        }
        if changes.is_empty() {
            continue;
        }
        let written = write_tx(conn, |c| {
            let mut n = 0;
            for change in &changes {
                n += compare_and_set!(c, services, id, change, client_secret);
            }
            Ok::<_, AppError>(n)
        })?;
        if run.batch_written("services", changes.len(), written) {
            return Ok(true);
        }
    }
}

type ConnectionSecrets = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

fn connections_pass(conn: &mut DbConn, run: &mut Run) -> Result<bool, AppError> {
    let (header, len) = (run.header.clone(), run.header.len() as i32);
    let mut after = i64::MIN;
    loop {
        let page: Vec<ConnectionSecrets> = connections::table
            .filter(connections::id.gt(after))
            .filter(
                substr(connections::credentials, 1, len)
                    .ne(header.clone())
                    .or(substr(connections::access_token, 1, len).ne(header.clone()))
                    .or(substr(connections::refresh_token, 1, len).ne(header.clone()))
                    .or(substr(connections::previous_refresh_token, 1, len).ne(header.clone())),
            )
            .order(connections::id)
            .limit(run.options.batch_size)
            .select((
                connections::id,
                connections::credentials,
                connections::access_token,
                connections::refresh_token,
                connections::previous_refresh_token,
            ))
            .load(conn)?;
        let Some((last, ..)) = page.last() else { return Ok(false) };
        after = *last;
        let mut changes = Vec::new();
        for (id, credentials, access, refresh, previous) in &page {
            let row = id.to_string();
            for (column, sealed) in [
                ("credentials", credentials),
                ("access_token", access),
                ("refresh_token", refresh),
                ("previous_refresh_token", previous),
            ] {
                if let Some(new) = run.reseal(SecretSlot::new("connections", column, &row), sealed.as_ref())? {
                    changes.push(Change { key: *id, column, old: sealed.clone().unwrap_or_default(), new });
                }
            }
        }
        if changes.is_empty() {
            continue;
        }
        let written = write_tx(conn, |c| {
            let mut n = 0;
            for change in &changes {
                n += match change.column {
                    "credentials" => compare_and_set!(c, connections, id, change, credentials),
                    "access_token" => compare_and_set!(c, connections, id, change, access_token),
                    "refresh_token" => compare_and_set!(c, connections, id, change, refresh_token),
                    _ => compare_and_set!(c, connections, id, change, previous_refresh_token),
                };
            }
            Ok::<_, AppError>(n)
        })?;
        if run.batch_written("connections", changes.len(), written) {
            return Ok(true);
        }
    }
}

fn flows_pass(conn: &mut DbConn, run: &mut Run) -> Result<bool, AppError> {
    let (header, len) = (run.header.clone(), run.header.len() as i32);
    let mut after = String::new();
    loop {
        let page: Vec<(String, Vec<u8>)> = oauth_flows::table
            .filter(oauth_flows::state_hash.gt(after.clone()))
            .filter(substr(oauth_flows::pkce_verifier.nullable(), 1, len).ne(header.clone()))
            .order(oauth_flows::state_hash)
            .limit(run.options.batch_size)
            .select((oauth_flows::state_hash, oauth_flows::pkce_verifier))
            .load(conn)?;
        let Some((last, _)) = page.last() else { return Ok(false) };
        after = last.clone();
        let mut changes = Vec::new();
        for (state_hash, sealed) in &page {
            let slot = SecretSlot::new("oauth_flows", "pkce_verifier", state_hash);
            if let Some(new) = run.reseal(slot, Some(sealed))? {
                let key = state_hash.clone();
                changes.push(Change { key, column: "pkce_verifier", old: sealed.clone(), new });
            }
        }
        if changes.is_empty() {
            continue;
        }
        let written = write_tx(conn, |c| {
            let mut n = 0;
            for change in &changes {
                n += compare_and_set!(c, oauth_flows, state_hash, change, pkce_verifier);
            }
            Ok::<_, AppError>(n)
        })?;
        if run.batch_written("oauth flows", changes.len(), written) {
            return Ok(true);
        }
    }
}
