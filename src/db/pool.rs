//! The connection pools: a manager that opens the right backend itself (so a PostgreSQL outage
//! reports PostgreSQL's own error instead of the multi-connection's "invalid connection url"), and
//! what keeps a dead connection from being handed out again after an outage.
//!
//! A connection that loses its server is dropped at its first such error. The others idle in the
//! pool, as dead; so every such error also starts a new "failure generation", and a connection that
//! has not been used since is pinged once before it is handed out. No statement pays for a ping
//! while the database is healthy, and the first request after an outage finds a live connection.
//!
//! The pools also note when the database last answered (`Health::answered_lately`): a PostgreSQL
//! read runs on an HTTP worker only while it does (see `Db::read`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, SqliteConnection};

use super::{Backend, DbConn, sqlite_path};
use crate::error::AppError;

/// How long a PostgreSQL read through `Db::read` may run before the server cancels it.
pub(super) const READ_TIMEOUT_MS: u32 = 5000;

/// A pooled connection, with what the pool must know of it.
pub struct Pooled {
    conn: DbConn,
    /// The failure generation in which it was last known to work.
    generation: u64,
    /// It lost its server: never hand it out again.
    lost: bool,
}

impl Pooled {
    /// It lost its server (it will not be handed out again).
    pub fn is_lost(&self) -> bool {
        self.lost
    }
}

impl std::ops::Deref for Pooled {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

/// A connection checked out of a pool (by `Db::get`), used as a `DbConn`.
pub struct Conn(PooledConnection<Manager>);

impl std::ops::Deref for Conn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.0.conn
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0.conn
    }
}

impl From<PooledConnection<Manager>> for Conn {
    fn from(conn: PooledConnection<Manager>) -> Conn {
        Conn(conn)
    }
}

/// Opens connections of one kind (read-write or read-only) to one database.
#[derive(Debug)]
pub struct Manager {
    /// With the client-side timeouts on PostgreSQL (see `pg_url`).
    url: String,
    /// Open read-only (the reader pool behind `Db::read`).
    read_only: bool,
    /// Bumped whenever a connection of the database was found lost (shared by both pools).
    failures: Arc<AtomicU64>,
    /// How long SQLite waits for a lock before it gives up (`busy_timeout`).
    busy: Duration,
}

/// The `file:` URI that opens a SQLite path read-only.
fn read_only_uri(path: &str) -> String {
    let escaped = path.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    format!("file:{escaped}?mode=ro")
}

impl Manager {
    pub fn new(url: &str, read_only: bool, failures: Arc<AtomicU64>, busy: Duration) -> Manager {
        Manager { url: super::pg_url::with_client_timeouts(url), read_only, failures, busy }
    }

    /// A connection outside any pool.
    pub fn open(&self) -> Result<DbConn, r2d2::Error> {
        let mut conn = match Backend::of(&self.url) {
            Backend::Postgres => PgConnection::establish(&self.url).map(DbConn::Pg),
            Backend::Sqlite if self.read_only => {
                SqliteConnection::establish(&read_only_uri(sqlite_path(&self.url))).map(DbConn::Sqlite)
            }
            Backend::Sqlite => SqliteConnection::establish(sqlite_path(&self.url)).map(DbConn::Sqlite),
        }
        .map_err(r2d2::Error::ConnectionError)?;
        if let (DbConn::Pg(c), true) = (&mut conn, self.read_only) {
            // A reader runs on an async worker thread: a write through it fails, as on SQLite, and
            // no statement holds the thread for long.
            c.batch_execute(&format!(
                "SET default_transaction_read_only = on; SET statement_timeout = {READ_TIMEOUT_MS}"
            ))
            .map_err(r2d2::Error::QueryError)?;
        }
        if let DbConn::Sqlite(c) = &mut conn {
            // busy_timeout first, so that switching to WAL waits for a concurrent opener. No memory
            // map: each pooled connection would keep every page it read mapped, counted as the
            // process's resident memory once per connection (a few database searches over a million
            // connections map hundreds of MB); pages come from the OS page cache instead.
            let busy = format!("PRAGMA busy_timeout = {};", self.busy.as_millis());
            let pragmas = if self.read_only {
                ""
            } else {
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            };
            c.batch_execute(&(busy + pragmas)).map_err(r2d2::Error::QueryError)?;
        }
        Ok(conn)
    }
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let generation = self.failures.load(Ordering::Acquire);
        Ok(Pooled { conn: self.open()?, generation, lost: false })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        R2D2Connection::ping(&mut conn.conn).map_err(r2d2::Error::QueryError)
    }

    /// A connection that lost its server, or that panicked or broke mid-transaction, is dropped
    /// instead of handed out again.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.lost || std::thread::panicking() || R2D2Connection::is_broken(&mut conn.conn)
    }
}

/// A pool of `manager`'s connections, handing one out within `wait` or failing (503). No `SELECT 1`
/// on every checkout (see the module doc).
pub fn pool_of(manager: Manager, max_size: u32, wait: Duration) -> Result<Pool<Manager>, AppError> {
    Pool::builder()
        .test_on_check_out(false)
        .max_size(max_size)
        .connection_timeout(wait)
        .error_handler(Box::new(Unreachable))
        .build(manager)
        .map_err(|e| AppError::Startup(format!("cannot open database: {e}")))
}

/// The pool's failures to open a connection, which it retries several times a second while the
/// database is away: a warning a minute, not an error each time.
#[derive(Debug)]
struct Unreachable;

impl r2d2::HandleError<r2d2::Error> for Unreachable {
    fn handle_error(&self, error: r2d2::Error) {
        crate::logs::warn("the database", &format_args!("cannot open a database connection: {error}"));
    }
}

/// Whether an error means the connection lost its server.
fn lost_server(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Db(DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ))
    )
}

/// What the pools of one database know of its health: the failure generations, and when it last
/// answered. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    failures: Arc<AtomicU64>,
    answered: Arc<Answered>,
}

/// When the database last answered a statement, in milliseconds after `origin`.
struct Answered {
    origin: Instant,
    at_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            failures: Arc::default(),
            answered: Arc::new(Answered { origin: Instant::now(), at_ms: AtomicU64::new(0) }),
        }
    }
}

impl Health {
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.failures.clone()
    }

    /// A connection of the database was found lost outside the pools (the cache's listener): every
    /// pooled one is suspect.
    pub fn lost_one(&self) {
        self.failures.fetch_add(1, Ordering::AcqRel);
    }

    /// The database answered a statement. Noted to the tenth of a second: every statement passes
    /// here, and a write to the shared counter on each would make the threads contend for it.
    pub fn answered(&self) {
        let ms = self.answered.origin.elapsed().as_millis() as u64;
        if ms >= self.answered.at_ms.load(Ordering::Relaxed) + 100 {
            self.answered.at_ms.store(ms, Ordering::Relaxed);
        }
    }

    /// Whether the database answered within `within`.
    pub fn answered_lately(&self, within: Duration) -> bool {
        let since = (self.answered.origin.elapsed().as_millis() as u64)
            .saturating_sub(self.answered.at_ms.load(Ordering::Relaxed));
        since < within.as_millis() as u64
    }

    /// Whether `conn` may be handed out: it was used since the last lost connection, or answers a
    /// ping now. One that does not is marked lost (dropped when it goes back).
    fn check(&self, conn: &mut Pooled) -> bool {
        let generation = self.failures.load(Ordering::Acquire);
        if conn.generation >= generation {
            return true;
        }
        if R2D2Connection::ping(&mut conn.conn).is_ok() {
            conn.generation = generation;
            return true;
        }
        conn.lost = true;
        false
    }

    /// Makes a connection from `pool` ready (see `check`), waiting for another when it is not.
    pub fn ready(
        &self,
        mut conn: PooledConnection<Manager>,
        pool: &Pool<Manager>,
    ) -> Result<PooledConnection<Manager>, AppError> {
        while !self.check(&mut conn) {
            conn = pool.get()?;
        }
        Ok(conn)
    }

    /// `ready` without waiting: `None` when `pool` has no other idle connection to try.
    pub fn ready_idle(
        &self,
        mut conn: PooledConnection<Manager>,
        pool: &Pool<Manager>,
    ) -> Option<PooledConnection<Manager>> {
        while !self.check(&mut conn) {
            conn = pool.try_get()?;
        }
        Some(conn)
    }

    /// Notes how a use of `conn` ended: a lost server drops it and makes the others suspect; any
    /// other outcome is an answer.
    pub fn after<T>(&self, conn: &mut Pooled, result: &Result<T, AppError>) {
        match result {
            Err(e) if lost_server(e) => {
                conn.lost = true;
                self.failures.fetch_add(1, Ordering::AcqRel);
            }
            _ => self.answered(),
        }
    }
}
