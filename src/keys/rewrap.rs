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
use crate::db::schema::{connections, oauth_flows, services, smtp_settings, webhook_endpoints};
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

/// The tables that hold sealed values, in the order a run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Services,
    Connections,
    OauthFlows,
    WebhookEndpoints,
    SmtpSettings,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Services,
        Table::Connections,
        Table::OauthFlows,
        Table::WebhookEndpoints,
        Table::SmtpSettings,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Services => "services",
            Table::Connections => "connections",
            Table::OauthFlows => "oauth_flows",
            Table::WebhookEndpoints => "webhook_endpoints",
            Table::SmtpSettings => "smtp_settings",
        }
    }
}

/// A row's key: the id, or an OAuth flow's state hash.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Id(i64),
    Hash(String),
}

/// One value to replace: where, the ciphertext read, and its replacement.
struct Change {
    key: Key,
    column: &'static str,
    old: Vec<u8>,
    new: Vec<u8>,
}

/// The values of one batch of rows, read and re-sealed, waiting to be written.
pub struct Batch {
    table: Table,
    changes: Vec<Change>,
    /// The last row read: the next batch starts after it. `None`: no row was left to read.
    last: Option<Key>,
    unreadable: Vec<String>,
}

impl Batch {
    /// How many values it would replace.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// The table it belongs to.
    pub fn table(&self) -> Table {
        self.table
    }

    /// Whether it replaces nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Re-seals every value not under the keyring's active key; see the module documentation.
pub fn rewrap(
    conn: &mut DbConn,
    keyring: &Keyring,
    options: RewrapOptions,
    progress: Progress,
) -> Result<RewrapSummary, AppError> {
    let size = options.batch_size.clamp(1, 10_000);
    let mut summary = RewrapSummary::default();
    for _ in 0..MAX_PASSES {
        let conflicts = summary.changed_meanwhile;
        for table in Table::ALL {
            let mut after: Option<Batch> = None;
            loop {
                let batch = read_batch(conn, keyring, table, after.as_ref(), size)?;
                summary.unreadable.extend(batch.unreadable.iter().cloned());
                if batch.last.is_none() {
                    break;
                }
                if batch.is_empty() {
                    after = Some(batch);
                    continue;
                }
                let written = write_batch(conn, &batch)?;
                let meanwhile = batch.len() - written;
                summary.batches += 1;
                summary.resealed += written as u64;
                summary.changed_meanwhile += meanwhile as u64;
                let note = match meanwhile {
                    0 => String::new(),
                    n => format!(", {n} changed meanwhile and left to their writer"),
                };
                progress(&format!(
                    "batch {}: {}: {written} value(s) re-sealed under {}{note}",
                    summary.batches,
                    table.name(),
                    keyring.active_kid()
                ));
                if options.max_batches.is_some_and(|max| summary.batches >= max) {
                    summary.stopped_early = true;
                    return Ok(summary);
                }
                after = Some(batch);
            }
        }
        if summary.changed_meanwhile == conflicts {
            break;
        }
    }
    Ok(summary)
}

/// Reads up to `size` rows of `table`, after the rows of batch `after`, that hold a value under
/// another key than the active one, and re-seals those values (outside any transaction: this is the
/// slow part).
pub fn read_batch(
    conn: &mut DbConn,
    keyring: &Keyring,
    table: Table,
    after: Option<&Batch>,
    size: i64,
) -> Result<Batch, AppError> {
    let after = after.and_then(|batch| batch.last.as_ref());
    let header = Keyring::header_of(&keyring.active_kid());
    let len = header.len() as i32;
    let mut batch = Batch { table, changes: Vec::new(), last: None, unreadable: Vec::new() };
    let reseal = |batch: &mut Batch, key: Key, column: &'static str, row: &str, sealed: Option<&Vec<u8>>| {
        let Some(old) = sealed.filter(|s| !s.starts_with(&header)) else {
            return Ok::<_, AppError>(());
        };
        let slot = SecretSlot::new(table.name(), column, row);
        match keyring.open(&slot, old) {
            Ok(secret) => {
                let new = keyring.seal(&slot, &secret)?;
                batch.changes.push(Change { key, column, old: old.clone(), new });
            }
            Err(_) => batch.unreadable.push(format!("{}.{column} of row {row}", table.name())),
        }
        Ok(())
    };
    match table {
        Table::Services => {
            let after = match after {
                Some(Key::Id(id)) => *id,
                _ => i64::MIN,
            };
            let page: Vec<(i64, Option<Vec<u8>>)> = services::table
                .filter(services::id.gt(after))
                .filter(substr(services::client_secret, 1, len).ne(header.clone()))
                .order(services::id)
                .limit(size)
                .select((services::id, services::client_secret))
                .load(conn)?;
            for (id, sealed) in &page {
                reseal(&mut batch, Key::Id(*id), "client_secret", &id.to_string(), sealed.as_ref())?;
                batch.last = Some(Key::Id(*id));
            }
        }
        Table::Connections => {
            let after = match after {
                Some(Key::Id(id)) => *id,
                _ => i64::MIN,
            };
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
                .limit(size)
                .select((
                    connections::id,
                    connections::credentials,
                    connections::access_token,
                    connections::refresh_token,
                    connections::previous_refresh_token,
                ))
                .load(conn)?;
            for (id, credentials, access, refresh, previous) in &page {
                let row = id.to_string();
                for (column, sealed) in [
                    ("credentials", credentials),
                    ("access_token", access),
                    ("refresh_token", refresh),
                    ("previous_refresh_token", previous),
                ] {
                    reseal(&mut batch, Key::Id(*id), column, &row, sealed.as_ref())?;
                }
                batch.last = Some(Key::Id(*id));
            }
        }
        Table::OauthFlows => {
            let after = match after {
                Some(Key::Hash(hash)) => hash.clone(),
                _ => String::new(),
            };
            let page: Vec<(String, Vec<u8>)> = oauth_flows::table
                .filter(oauth_flows::state_hash.gt(after))
                .filter(substr(oauth_flows::pkce_verifier.nullable(), 1, len).ne(header.clone()))
                .order(oauth_flows::state_hash)
                .limit(size)
                .select((oauth_flows::state_hash, oauth_flows::pkce_verifier))
                .load(conn)?;
            for (hash, sealed) in &page {
                reseal(&mut batch, Key::Hash(hash.clone()), "pkce_verifier", hash, Some(sealed))?;
                batch.last = Some(Key::Hash(hash.clone()));
            }
        }
        Table::WebhookEndpoints => {
            let after = match after {
                Some(Key::Id(id)) => *id,
                _ => i64::MIN,
            };
            let page: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = webhook_endpoints::table
                .filter(webhook_endpoints::id.gt(after))
                .filter(
                    substr(webhook_endpoints::secret.nullable(), 1, len).ne(header.clone()).or(substr(
                        webhook_endpoints::url,
                        1,
                        len,
                    )
                    .ne(header.clone())),
                )
                .order(webhook_endpoints::id)
                .limit(size)
                .select((webhook_endpoints::id, webhook_endpoints::secret, webhook_endpoints::url))
                .load(conn)?;
            for (id, secret, url) in &page {
                let row = id.to_string();
                reseal(&mut batch, Key::Id(*id), "secret", &row, Some(secret))?;
                reseal(&mut batch, Key::Id(*id), "url", &row, url.as_ref())?;
                batch.last = Some(Key::Id(*id));
            }
        }
        Table::SmtpSettings => {
            let after = match after {
                Some(Key::Id(id)) => i32::try_from(*id).unwrap_or(i32::MAX),
                _ => i32::MIN,
            };
            let page: Vec<(i32, Option<Vec<u8>>)> = smtp_settings::table
                .filter(smtp_settings::id.gt(after))
                .filter(substr(smtp_settings::password, 1, len).ne(header.clone()))
                .order(smtp_settings::id)
                .limit(size)
                .select((smtp_settings::id, smtp_settings::password))
                .load(conn)?;
            for (id, sealed) in &page {
                reseal(&mut batch, Key::Id(i64::from(*id)), "password", &id.to_string(), sealed.as_ref())?;
                batch.last = Some(Key::Id(i64::from(*id)));
            }
        }
    }
    Ok(batch)
}

type ConnectionSecrets = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// Replaces `$table.$column` of the change's row only while it still holds the ciphertext read.
macro_rules! compare_and_set {
    ($conn:expr, $table:ident, $key_column:ident, $key:expr, $change:expr, $column:ident) => {
        diesel::update(
            $table::table
                .filter($table::$key_column.eq($key))
                .filter($table::$column.eq($change.old.as_slice())),
        )
        .set($table::$column.eq($change.new.as_slice()))
        .execute($conn)?
    };
}

/// Writes a batch in one transaction of compare-and-set updates; returns how many values were
/// replaced (the others had changed since they were read, and keep what their writer wrote).
pub fn write_batch(conn: &mut DbConn, batch: &Batch) -> Result<usize, AppError> {
    write_tx(conn, |c| {
        let mut written = 0;
        for change in &batch.changes {
            written += match (&change.key, batch.table, change.column) {
                (Key::Id(id), Table::Services, _) => {
                    compare_and_set!(c, services, id, id, change, client_secret)
                }
                (Key::Id(id), Table::Connections, "credentials") => {
                    compare_and_set!(c, connections, id, id, change, credentials)
                }
                (Key::Id(id), Table::Connections, "access_token") => {
                    compare_and_set!(c, connections, id, id, change, access_token)
                }
                (Key::Id(id), Table::Connections, "refresh_token") => {
                    compare_and_set!(c, connections, id, id, change, refresh_token)
                }
                (Key::Id(id), Table::Connections, _) => {
                    compare_and_set!(c, connections, id, id, change, previous_refresh_token)
                }
                (Key::Hash(hash), Table::OauthFlows, _) => {
                    compare_and_set!(c, oauth_flows, state_hash, hash, change, pkce_verifier)
                }
                (Key::Id(id), Table::WebhookEndpoints, "secret") => {
                    compare_and_set!(c, webhook_endpoints, id, id, change, secret)
                }
                (Key::Id(id), Table::WebhookEndpoints, _) => {
                    compare_and_set!(c, webhook_endpoints, id, id, change, url)
                }
                (Key::Id(id), Table::SmtpSettings, _) => {
                    let id = i32::try_from(*id).map_err(|e| AppError::Internal(e.to_string()))?;
                    compare_and_set!(c, smtp_settings, id, id, change, password)
                }
                _ => return Err(AppError::Internal("a re-seal names a row of another table".into())),
            };
        }
        Ok(written)
    })
}
