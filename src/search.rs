//! The connection search's name index, kept in memory by each instance.
//!
//! A search page needs its matches in name order, and neither database has an index that gives
//! substring matches in that order: FTS5 and pg_trgm give them by row, so a fragment that many
//! connections contain costs a row read for each of their names before a page can be picked (at a
//! million connections, a fragment held by 1% of the names costs 10,000 row reads). Here every
//! connection's name and link name are cut into three-byte grams, and each gram lists the
//! connections that contain it *in name order* (`snapshot`, packed by `postings`): a search walks
//! the shortest list of its needle's grams, checks each candidate, and stops once it has the page
//! and has counted to the cap. Only the page's rows are then read from the database, by id.
//!
//! Consistency: triggers bump `connection_names_version` whenever a connection is added, removed or
//! renamed (migration 000028). Every search reads that version first and uses the index only when it
//! is of that version, so a search never misses a change that committed before it began, on any
//! instance. Otherwise the database answers, as it does for what the index does not cover (needles
//! under three bytes, the other filters and sorts, more than `MAX_ENTRIES` connections), and a new
//! snapshot is loaded: on a thread of its own when the index has the database (`NameIndex::new`),
//! so that no request waits seconds for a million names; after a load that took `t`, the next one
//! waits `PAUSE_FACTOR × t`, so that a stream of changes costs at most a fifth of a core.
//!
//! What it earns (a search page at a million connections as fast as at ten thousand) and what it
//! costs (memory, and a load time per connection) are measured in `bench/README.md`.

mod postings;
mod snapshot;

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::connections;
use crate::db::{Db, DbConn, static_sql};
use snapshot::{Columns, Snapshot};

/// How far a search counts its matches: a list says "1,000+" beyond, so that no page walks the table.
pub const COUNT_CAP: i64 = 1000;

/// How many connections a list matches: exact, or at least `n` when there are more than the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub n: i64,
    /// True when there are more than `n`.
    pub at_least: bool,
}

/// Above this many connections the index is not built, and searches go to the database: about 200
/// bytes a connection, so 300 MB here (`bench/README.md`).
pub const MAX_ENTRIES: usize = 1_500_000;

/// How many connections a load reads in one statement.
const LOAD_CHUNK: i64 = 50_000;

/// After a load that took `t`, the next one waits `PAUSE_FACTOR × t`.
const PAUSE_FACTOR: u32 = 4;

/// What a search asks of the index.
#[derive(Debug, Clone, Copy)]
pub struct NameQuery<'a> {
    /// Trimmed and lowercased, as the lists' `name_lower` column holds names.
    pub needle: &'a str,
    pub owner_id: Option<i64>,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

/// The ids of a page of matches, in order, and how many match in all (up to `COUNT_CAP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub ids: Vec<i64>,
    pub total: Total,
}

/// One instance's index. Cheap to share: searches read a snapshot.
pub struct NameIndex {
    shared: Arc<Shared>,
    /// Loads run on a thread of their own, with a connection from here. Without it the request that
    /// finds the index stale loads it.
    db: Option<Db>,
    max_entries: usize,
}

#[derive(Default)]
struct Shared {
    current: RwLock<Option<Arc<Snapshot>>>,
    loads: Mutex<Loads>,
}

#[derive(Default)]
struct Loads {
    running: bool,
    /// No load starts before this.
    paused_until: Option<Instant>,
}

impl Default for NameIndex {
    fn default() -> NameIndex {
        NameIndex::with_max_entries(MAX_ENTRIES)
    }
}

impl NameIndex {
    /// An index that loads on a thread of its own, from `db`.
    pub fn new(db: Db) -> NameIndex {
        NameIndex { db: Some(db), ..NameIndex::default() }
    }

    /// An index that gives way to the database above `max_entries` connections, loaded by the
    /// request that finds it stale.
    pub fn with_max_entries(max_entries: usize) -> NameIndex {
        NameIndex { shared: Arc::default(), db: None, max_entries }
    }

    /// Starts a load now, so that the first search finds the index ready (start-up).
    pub fn warm_up(&self) {
        if let Some(db) = &self.db {
            self.load_in_background(db);
        }
    }

    /// The page `query` asks for, or `None` when the index cannot answer it now (a needle under three
    /// bytes, a load under way, too many connections): the caller searches the database.
    pub fn search(&self, conn: &mut DbConn, query: NameQuery<'_>) -> QueryResult<Option<Found>> {
        if query.needle.len() < 3 {
            return Ok(None);
        }
        let version = version(conn)?;
        let snapshot = match self.shared.current() {
            Some(snapshot) if snapshot.version == version => snapshot,
            _ => match &self.db {
                Some(db) => {
                    // A stale snapshot answers nothing: let it go now rather than hold two while the
                    // next one loads.
                    self.shared.forget_older_than(version);
                    self.load_in_background(db);
                    return Ok(None);
                }
                None => match self.load_here(conn, version)? {
                    Some(snapshot) => snapshot,
                    None => return Ok(None),
                },
            },
        };
        Ok(snapshot.complete.then(|| snapshot.search(query)))
    }

    /// Loads `version` on this thread, unless another request is loading.
    fn load_here(&self, conn: &mut DbConn, version: i64) -> QueryResult<Option<Arc<Snapshot>>> {
        let Ok(_loading) = self.shared.loads.try_lock() else { return Ok(None) };
        // Another request may have loaded this version while this one waited for the lock.
        if let Some(current) = self.shared.current().filter(|s| s.version == version) {
            return Ok(Some(current));
        }
        Ok(Some(self.shared.store(load(conn, version, self.max_entries, LOAD_CHUNK)?)))
    }

    fn load_in_background(&self, db: &Db) {
        let Ok(mut loads) = self.shared.loads.lock() else { return };
        if loads.running || loads.paused_until.is_some_and(|until| Instant::now() < until) {
            return;
        }
        loads.running = true;
        let (shared, db, max_entries) = (self.shared.clone(), db.clone(), self.max_entries);
        let started = std::thread::Builder::new().name("name-index".into()).spawn(move || {
            let began = Instant::now();
            let loaded = db.with_scan_connection(|conn| {
                let version = version(conn)?;
                Ok(load(conn, version, max_entries, LOAD_CHUNK)?)
            });
            let took = began.elapsed();
            match loaded {
                Ok(snapshot) => {
                    let (version, entries, bytes) = (snapshot.version, snapshot.ids.len(), snapshot.bytes());
                    shared.store(snapshot);
                    let ms = took.as_millis() as u64;
                    tracing::info!(version, entries, bytes, ms, "loaded the name index");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not load the name index; searches read the database")
                }
            }
            if let Ok(mut loads) = shared.loads.lock() {
                loads.running = false;
                loads.paused_until = Some(Instant::now() + took.max(Duration::from_millis(1)) * PAUSE_FACTOR);
            }
        });
        if started.is_err() {
            loads.running = false;
        }
    }
}

impl Shared {
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok().and_then(|s| s.clone())
    }

    fn forget_older_than(&self, version: i64) {
        if let Ok(mut current) = self.current.write()
            && current.as_ref().is_some_and(|s| s.version < version)
        {
            *current = None;
        }
    }

    fn store(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        if let Ok(mut current) = self.current.write() {
            *current = Some(snapshot.clone());
        }
        snapshot
    }
}

/// Reads every connection's names into a snapshot of `version` (read before the rows, so a change in
/// between only makes the next search load again). The rows come in chunks by id, each read whole
/// and let go, so a load holds little more than the snapshot it makes on either database (a single
/// statement would hold the whole result in PostgreSQL's client library first). Above `max_entries`
/// connections the snapshot remembers only its version, so that searches do not read them all again
/// until something changes.
fn load(conn: &mut DbConn, version: i64, max_entries: usize, chunk_size: i64) -> QueryResult<Snapshot> {
    let mut columns = Columns::default();
    let mut after = 0;
    while columns.len() <= max_entries {
        let chunk: Vec<(i64, i64, String, String)> = connections::table
            .filter(connections::id.gt(after))
            .order(connections::id)
            .limit(chunk_size)
            .select((connections::id, connections::owner_id, connections::name_lower, connections::link_name))
            .load(conn)?;
        let last = chunk.len() < chunk_size as usize;
        for (id, owner_id, name_lower, link_name) in chunk {
            columns.push(id, owner_id, &name_lower, &link_name);
            after = id;
        }
        if last {
            break;
        }
    }
    let complete = columns.len() <= max_entries;
    Ok(Snapshot::new(version, if complete { columns } else { Columns::default() }, complete))
}

/// The version the triggers keep.
fn version(conn: &mut DbConn) -> QueryResult<i64> {
    diesel::select(static_sql::<BigInt>("(SELECT v FROM connection_names_version WHERE id = 1)"))
        .get_result(conn)
}

#[cfg(test)]
mod tests;
