//! The changes this instance makes reach its own cache right after the statements that made them,
//! from the same reports the triggers send every instance (migration 000036): on PostgreSQL the
//! session setting `connections.changes` that the trigger function appends each payload to, on
//! SQLite the `cache_changes` rows after the last one this instance applied. `Db::run` calls
//! `catch_up` after every use of a pooled connection, so no write, whoever wrote it, leaves a stale
//! entry here for longer than its own statement.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::Cache;
use crate::db::schema::cache_changes;
use crate::db::{Db, DbConn, static_sql};

/// Installs `catch_up` for `cache` on `db`.
pub(super) fn apply_own_changes(db: &Db, cache: Arc<Cache>) {
    db.on_changes(Arc::new(move |conn: &mut DbConn| catch_up(&cache, conn)));
}

/// Applies what the statements just run on `conn` reported; when that cannot be read, empties the
/// cache (a change it missed must not leave a stale entry).
fn catch_up(cache: &Cache, conn: &mut DbConn) {
    let applied = match conn {
        DbConn::Pg(_) => reported_here(conn).map(|payloads| payloads.iter().for_each(|p| cache.forget(p))),
        DbConn::Sqlite(_) => logged_since(cache, conn),
    };
    if let Err(e) = applied {
        tracing::debug!(error = %e, "could not read this statement's changes; the cache starts again");
        cache.forget("");
    }
}

/// PostgreSQL: the payloads the trigger function appended to this session's setting, taken and
/// emptied in one call (a rolled-back transaction undid its own).
fn reported_here(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let reported: Option<String> =
        diesel::select(static_sql::<Nullable<Text>>("take_cache_changes()")).get_result(conn)?;
    Ok(reported.unwrap_or_default().lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// SQLite: the rows logged since the last one this instance applied. One transaction commits at a
/// time, so the rows of this connection's statements are among them.
fn logged_since(cache: &Cache, conn: &mut DbConn) -> QueryResult<()> {
    let seen = cache.seen.load(Ordering::Acquire);
    if seen < 0 {
        // The poller has not read yet: the cache is not in use, and its first read starts it afresh.
        return Ok(());
    }
    let logged: Vec<(i64, String)> = crate::on_backend!(conn, |c| cache_changes::table
        .filter(cache_changes::id.gt(seen))
        .order(cache_changes::id)
        .select((cache_changes::id, cache_changes::payload))
        .load(c))?;
    for (id, payload) in logged {
        cache.forget(&payload);
        cache.seen.fetch_max(id, Ordering::AcqRel);
    }
    Ok(())
}
