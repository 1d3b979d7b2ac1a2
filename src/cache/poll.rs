//! SQLite: the triggers of migration 000027 write each change's payload to `cache_changes`, and every
//! instance on the file reads the rows it has not seen every `POLL` and hands them to the cache.
//! SQLite commits one writer at a time, so ids become visible in order and "the rows after the last
//! one seen" misses none. Rows older than `KEEP_SECS` are removed by whichever instance gets there;
//! an instance that has not read for longer than `STALE_AFTER` (its cache was bypassed meanwhile)
//! starts its cache again rather than trust that no row it needed was removed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diesel::dsl::max;
use diesel::prelude::*;

use super::{Cache, STALE_AFTER};
use crate::db::schema::cache_changes;
use crate::db::{Db, DbConn};
use crate::error::AppError;

/// How often the poller reads the table: each read is a read transaction, which costs far more than
/// PostgreSQL's read of a socket, so it polls less often than the listener (`listen::POLL`).
pub(super) const POLL: Duration = Duration::from_millis(20);
/// How long a change stays in the table: far longer than an instance may go without reading it.
const KEEP_SECS: i64 = 60;
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// More unseen changes than this (a bulk change) empty the cache instead of being applied one by one.
const MAX_BATCH: i64 = 1000;

/// Starts the poller thread for `cache` on `db` (whose URL is `url`). It ends when `stopped` says so.
pub(super) fn poll(db: Db, url: String, cache: Arc<Cache>, stopped: impl Fn() -> bool + Send + 'static) {
    let spawned = std::thread::Builder::new().name("cache-poller".into()).spawn(move || {
        let mut reader = Reader { started: false, read_at: Instant::now() };
        let mut conn = None;
        let mut pruned = Instant::now();
        while !stopped() {
            std::thread::sleep(POLL);
            let read = match &mut conn {
                Some(conn) => reader.read(conn, &cache),
                None => crate::db::open_small_reader(&url)
                    .and_then(|opened| reader.read(conn.insert(opened), &cache)),
            };
            if let Err(e) = read {
                cache.seen.store(-1, Ordering::Release);
                if std::mem::take(&mut reader.started) {
                    tracing::warn!(
                        error = %e,
                        "cache poller cannot read the database; sessions, tokens and connections are read \
                         from the database meanwhile"
                    );
                }
                conn = None;
                cache.reset(false);
                std::thread::sleep(Duration::from_secs(1));
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                if let Err(e) = prune(&db) {
                    tracing::warn!(error = %e, "cache poller cannot remove old changes");
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(
            error = %e,
            "cache poller not started; sessions, tokens and connections are read from the database"
        );
    }
}

struct Reader {
    /// Whether the cache's cursor (`Cache::seen`) is this reader's: false before the first read and
    /// after a failure.
    started: bool,
    read_at: Instant,
}

impl Reader {
    /// Applies the changes since the last read, or starts the cache again when that read was too
    /// long ago (or never happened), or there are too many. Its statements are prepared once per
    /// connection: this runs every `POLL`, changes or not.
    fn read(&mut self, conn: &mut DbConn, cache: &Cache) -> Result<(), AppError> {
        let after = cache.seen.load(Ordering::Acquire);
        let changes = match self.started {
            true if self.read_at.elapsed() < STALE_AFTER => {
                Some(crate::on_backend!(conn, |c| cache_changes::table
                    .filter(cache_changes::id.gt(after))
                    .order(cache_changes::id)
                    .limit(MAX_BATCH + 1)
                    .select((cache_changes::id, cache_changes::payload))
                    .load::<(i64, String)>(c))?)
            }
            _ => None,
        };
        match changes.filter(|changes| changes.len() as i64 <= MAX_BATCH) {
            Some(changes) => {
                for (id, payload) in changes {
                    cache.forget(&payload);
                    cache.seen.fetch_max(id, Ordering::AcqRel);
                }
                cache.heard();
            }
            None => {
                // The newest id first, then the reset: an entry read before a change up to it was
                // read before the reset too, and the reset's new epoch keeps it out.
                cache.seen.store(newest(conn)?, Ordering::Release);
                self.started = true;
                cache.reset(true);
            }
        }
        self.read_at = Instant::now();
        Ok(())
    }
}

fn newest(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(cache_changes::table.select(max(cache_changes::id)).get_result::<Option<i64>>(conn)?.unwrap_or(0))
}

fn prune(db: &Db) -> Result<(), AppError> {
    let cutoff = crate::db::static_sql::<diesel::sql_types::BigInt>("unixepoch() - ")
        .bind::<diesel::sql_types::BigInt, _>(KEEP_SECS);
    diesel::delete(cache_changes::table.filter(cache_changes::at.lt(cutoff))).execute(&mut *db.get()?)?;
    Ok(())
}

#[cfg(test)]
mod tests;
