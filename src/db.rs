//! The database: one `DbConn` over SQLite and PostgreSQL, a pool whose manager dispatches on the URL
//! scheme, per-backend embedded migrations, and `Db::run` to use a connection off the async threads.

mod backend;
pub mod migrations;
mod pg_relay;
mod pg_tls;
mod pg_url;
mod pool;
pub mod schema;
mod static_sql;

pub use backend::{Backend, SUPPORTED_URLS, check_url, sqlite_path};
pub use pg_tls::through_tls_relay;
pub use pg_url::with_client_timeouts;
pub use pool::{Conn, Manager, Pooled};
pub use static_sql::{IdIn, Paged, StaticBind, StaticSql, static_sql};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::Pool;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::MigrationHarness;

use crate::error::AppError;
use migrations::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// A connection to either backend. Queries are written once against it; code branches on the variant
/// only where the SQL differs.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Called with a write connection after each use (see `Db::on_changes`).
pub type ChangeHook = Arc<dyn Fn(&mut DbConn) + Send + Sync>;

/// Runs a query on the backend's own connection instead of through `DbConn`: diesel's
/// `MultiConnection` walks a query's whole syntax tree into a throwaway SQL string on every run,
/// even when its statement is cached. For the hot look-ups.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}

/// How long a request waits for the database by default (see `Db::connect_within`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// A PostgreSQL read runs on the HTTP worker only if the database answered this recently (the
/// cache's listener pings it every second, see `cache::listen`): once it stops answering, reads go
/// where a wait for it is bounded (see `Db::read`).
const ANSWERED_LATELY: Duration = Duration::from_secs(2);

/// The shared pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    /// Read-only connections for `read` (none for an in-memory SQLite database).
    readers: Option<Pool<Manager>>,
    backend: Backend,
    /// Which pooled connections may have lost their server, and when the database last answered
    /// (see `pool`).
    health: pool::Health,
    /// How long a request waits for a pooled connection, and SQLite for its write lock.
    wait: Duration,
    /// Runs after each use of a write connection (the cache's `changes`).
    changes: Arc<OnceLock<ChangeHook>>,
    /// Uses by `run` waiting for a pooled connection right now (r2d2 does not say).
    waiting: Arc<AtomicU64>,
    /// Opens the connections of `with_scan_connection` (none for an in-memory SQLite database).
    scans: Option<Arc<Manager>>,
}

/// Counts one wait for a pooled connection while it lives.
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn start(count: &'a AtomicU64) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Db {
    /// `connect_within` the default wait.
    pub fn connect(url: &str, max_size: u32) -> Result<Db, AppError> {
        Db::connect_within(url, max_size, DEFAULT_WAIT)
    }

    /// Opens the pool (creating the SQLite folder and file, private: see `private_files`) and checks
    /// one connection, failing with the database's own message when it is unreachable (within the
    /// URL's `connect_timeout` on PostgreSQL, see `pg_url`). A request waits at most `wait` for a
    /// pooled connection (SQLite as long for its write lock), and at most twice that for the
    /// database's answer (see `run`).
    pub fn connect_within(url: &str, max_size: u32, wait: Duration) -> Result<Db, AppError> {
        let backend =
            check_url(url).map_err(|why| AppError::Startup(format!("invalid DATABASE_URL: {why}")))?;
        let in_memory = sqlite_path(url).is_empty() || sqlite_path(url).contains(":memory:");
        if backend == Backend::Sqlite && !in_memory && !sqlite_path(url).starts_with("file:") {
            let path = std::path::Path::new(sqlite_path(url));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crate::private_files::create_dir(dir).map_err(|e| {
                    AppError::Startup(format!("cannot create database folder {}: {e}", dir.display()))
                })?;
            }
            crate::private_files::prepare_sqlite(path)
                .map_err(|e| AppError::Startup(format!("cannot open database {}: {e}", path.display())))?;
        }
        // Open one connection first so that the error is the database's, not r2d2's timeout.
        let health = pool::Health::default();
        let writer = Manager::new(url, false, health.counter(), wait);
        writer.open().map_err(|e| {
            AppError::Startup(format!("cannot open database: {}", pg_url::explain(&e.to_string())))
        })?;
        health.answered();
        let pool = pool::pool_of(writer, max_size, wait)?;
        let readers = match backend {
            Backend::Sqlite if in_memory => None,
            // A read runs to its end inside one poll of its task, so a worker thread holds at most one
            // reader at a time: one per worker (half the writers, see `app::build`), and two for the
            // background tasks. A busy pool falls back to `run`.
            _ => {
                Some(pool::pool_of(Manager::new(url, true, health.counter(), wait), max_size / 2 + 2, wait)?)
            }
        };
        let scans = (!(backend == Backend::Sqlite && in_memory))
            .then(|| Arc::new(Manager::new(url, false, health.counter(), wait)));
        Ok(Db {
            pool,
            readers,
            backend,
            health,
            wait,
            changes: Arc::default(),
            waiting: Arc::default(),
            scans,
        })
    }

    /// Per pool (`write`, `read`): the connections in use and the idle ones.
    pub fn pool_usage(&self) -> Vec<(&'static str, u32, u32)> {
        let usage = |name, pool: &Pool<Manager>| {
            let state = pool.state();
            (name, state.connections - state.idle_connections, state.idle_connections)
        };
        let mut pools = vec![usage("write", &self.pool)];
        pools.extend(self.readers.as_ref().map(|readers| usage("read", readers)));
        pools
    }

    /// How many uses by `run` wait for a pooled connection right now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for blocking code (CLI, start-up).
    pub fn get(&self) -> Result<Conn, AppError> {
        Ok(self.health.ready(self.pool.get()?, &self.pool)?.into())
    }

    /// Runs `f`, blocking code that reads a whole table once (migrations, start-up's check of stored
    /// secrets, the name index's load), on a connection of its own, closed after it: it holds no
    /// pooled connection for seconds, and leaves the pooled connections' page caches to the pages
    /// requests read. An in-memory database has only its pool.
    pub fn with_scan_connection<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let Some(scans) = &self.scans else { return f(&mut *self.get()?) };
        let mut conn =
            scans.open().map_err(|e| AppError::Internal(format!("cannot open the database: {e}")))?;
        f(&mut conn)
    }

    /// Whether this is an in-memory SQLite database, which no other process can open.
    pub fn in_memory(&self) -> bool {
        self.backend == Backend::Sqlite && self.readers.is_none()
    }

    /// How long a request waits for a pooled connection (see `connect_within`).
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Has `hook` run after each use of a write connection by `run`, on that connection, whatever the
    /// closure did (the cache applies the changes it made, see `cache::changes`). Set once.
    pub fn on_changes(&self, hook: ChangeHook) {
        let _ = self.changes.set(hook);
    }

    /// The database answered (the cache's listener heard from it).
    pub fn answered(&self) {
        self.health.answered();
    }

    /// A connection to the database was lost outside the pools (the cache's listener's): pooled
    /// connections are pinged before they are used again.
    pub fn lost_one(&self) {
        self.health.lost_one();
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, waiting at most twice the
    /// configured wait: one for a connection, one for the answer. Past that the request answers 503
    /// (`AppError::DbTimeout`); the thread goes on until the connection's own client-side timeouts
    /// end it (see `pg_url`), so a statement cut off here may still complete.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        self.run_within(self.wait * 2, f).await
    }

    /// `run`, waiting at most `bound` (a readiness probe's shorter one).
    pub async fn run_within<T, F>(&self, bound: Duration, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        tokio::time::timeout(bound, self.run_to_end(f)).await.unwrap_or(Err(AppError::DbTimeout(bound)))
    }

    /// `run` without a bound of its own, for background work that must learn how a write ended
    /// (the activity writer: a batch given up on while it may still commit would be written twice).
    /// The connection's client-side timeouts still end a wait for a server that went away.
    pub async fn run_to_end<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        let (pool, health, changes) = (self.pool.clone(), self.health.clone(), self.changes.clone());
        // Lines logged on the blocking thread belong to the request (its id) that asked for the work.
        let span = tracing::Span::current();
        let waiting = self.waiting.clone();
        tokio::task::spawn_blocking(move || {
            let _in_request = span.enter();
            let pooled = {
                let _waiting = Waiting::start(&waiting);
                pool.get()?
            };
            let mut conn = health.ready(pooled, &pool)?;
            let result = f(&mut conn);
            health.after(&mut conn, &result);
            if !conn.is_lost()
                && let Some(hook) = changes.get()
            {
                hook(&mut conn);
            }
            result
        })
        .await
        .map_err(|e| AppError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs a short read `f` (a look-up by key, one list page) right here, on a read-only
    /// connection, instead of paying the two thread switches of `run`: on SQLite a WAL read never
    /// waits for a lock, and on PostgreSQL the switches cost more than the round trip to a local
    /// server. A busy reader pool falls back to `run`, so an async thread never waits for the pool;
    /// on PostgreSQL it waits for the server, for at most `READ_TIMEOUT_MS`. A write in `f` fails;
    /// that is the point of the separate pool.
    ///
    /// Nothing can bound a wait for a PostgreSQL server that went silent on this thread (libpq waits
    /// on its socket without a timeout; the connection's keepalives end it only when the network
    /// drops everything, not when a proxy or a frozen server acknowledges and says nothing), and a
    /// worker waiting there would hold up every request it serves, `/healthz` included. So reads run
    /// here only while the database answered within `ANSWERED_LATELY`, and through `run` otherwise.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        if let Some(readers) = &self.readers
            && (self.backend == Backend::Sqlite || self.health.answered_lately(ANSWERED_LATELY))
            && let Some(conn) = readers.try_get()
            && let Some(mut conn) = self.health.ready_idle(conn, readers)
        {
            let result = f(&mut conn);
            self.health.after(&mut conn, &result);
            return result;
        }
        self.run(f).await
    }

    /// Applies pending embedded migrations of this backend, refusing first a database that a newer
    /// binary has migrated (see `migrations`). A migration may read a whole table (an added index),
    /// so they run as a scan does (`with_scan_connection`).
    pub fn migrate(&self) -> Result<(), AppError> {
        self.with_scan_connection(|conn| {
            migrations::refuse_newer(conn)?;
            let failed = |e| AppError::Startup(format!("database migration failed: {e}"));
            let (before, applied) = match conn {
                DbConn::Sqlite(c) => (
                    c.applied_migrations().map_err(failed)?.len(),
                    c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(failed)?.len(),
                ),
                DbConn::Pg(c) => (
                    c.applied_migrations().map_err(failed)?.len(),
                    c.run_pending_migrations(POSTGRES_MIGRATIONS).map_err(failed)?.len(),
                ),
            };
            if applied > 0 {
                tracing::info!(applied, "database migrations applied");
            }
            // An upgrade may add an index, which has no statistics yet: SQLite then guesses it matches
            // ten rows, and may pick it for a list and sort the whole table. A new database waits for
            // the periodic run instead (see `app::spawn_maintenance`).
            if applied > 0 && before > 0 {
                optimize(conn).map_err(|e| AppError::Startup(format!("database statistics failed: {e}")))?;
            }
            Ok(())
        })
    }
}

/// A read-only SQLite connection outside the pools, for a thread that reads a few pages very often
/// (the cache's poller), so that it never waits for a pooled reader.
pub fn open_small_reader(url: &str) -> Result<DbConn, AppError> {
    Manager::new(url, true, Default::default(), DEFAULT_WAIT)
        .open()
        .map_err(|e| AppError::Internal(format!("cannot open the database: {e}")))
}

/// Keeps the query planner's statistics current. SQLite has none until asked, and without them it
/// plans a search over many connections by walking an index instead of starting from the few search
/// hits. `PRAGMA optimize` re-analyzes only tables that changed a lot, with a bounded sample.
/// PostgreSQL's autovacuum does this itself.
pub fn optimize(conn: &mut DbConn) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => c.batch_execute("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;"),
        DbConn::Pg(_) => Ok(()),
    }
}

/// Runs `f` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`, which takes the write lock up
/// front: a deferred transaction that reads first and writes later can fail with SQLITE_BUSY instead
/// of waiting for the busy timeout. Inside another transaction it is a savepoint (the outer one
/// already holds the lock), so writes that each use `write_tx` can be combined into one.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConn) -> Result<T, E>,
{
    let sqlite_outermost = match conn {
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?.is_none()
        }
        DbConn::Pg(_) => false,
    };
    if !sqlite_outermost {
        return conn.transaction(f);
    }
    if let DbConn::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let result = f(conn);
    if let DbConn::Sqlite(c) = conn {
        match &result {
            Ok(_) => AnsiTransactionManager::commit_transaction(c)?,
            Err(_) => AnsiTransactionManager::rollback_transaction(c)?,
        }
    }
    result
}

// Lookups by a unique key use `get_result`, not `first`: a unique key needs no `LIMIT ?`, and a
// statement without one leaves the planner no bound value to plan around.

/// Whether a diesel error is a unique-constraint violation (a duplicate name, for instance).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

#[cfg(test)]
mod tests;
