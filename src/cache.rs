//! What this instance reads on nearly every request, kept in memory: the sessions and API tokens it
//! has checked (every page and every API call starts with one), and the connections it has invoked
//! with their services (every invoke loads one). They serve an invoke's latency: without them an
//! invoke through the app reads twice more from the database before it calls out (see
//! `bench/README.md` for the figures).
//!
//! The database stays the only record. A cached entry is used only while this instance hears of every
//! change that could matter and has heard from the database within `STALE_AFTER`:
//! - triggers report a deleted session, a revoked or deleted token, and any change to a user, a
//!   connection or a service (migration 000036): on PostgreSQL with `NOTIFY`, which every instance's
//!   listener hears (`listen`), on SQLite in the `cache_changes` table, which every instance reads
//!   (`poll`);
//! - the instance that made a change applies it at once, from the same report, right after the
//!   statement (`changes`, through `Db::on_changes`): whatever code made the change, it cannot forget
//!   to evict what it changed.
//!
//! A change removes the entries it names; losing the database clears the cache and bypasses it until
//! the database is back. Connections are cached sealed, as stored: their secrets are opened per use.
//! An in-memory SQLite database (tests of the CLI) has no cache.

mod changes;
mod listen;
mod poll;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::{Backend, Db};
use crate::models::api_token::LiveToken;
use crate::models::connection::Loaded;
use crate::models::session::Session;
use crate::models::user::User;

/// A listener or poller not heard from for this long may be cut off (a ping waiting on a lost
/// network, a stalled thread), which would otherwise keep the cache in use: the cache is bypassed
/// until it answers again.
const STALE_AFTER: Duration = Duration::from_secs(3);
/// Past this many sessions (or tokens, or connections) the cache of them starts again (a bound, not an
/// eviction policy).
const MAX_ENTRIES: usize = 10_000;
/// A cached connection is read again after this long even when no report came: a bound on what a
/// lost notification can cost (sessions and tokens are re-read within a minute anyway).
const CONNECTION_MAX_AGE: Duration = Duration::from_secs(30);
/// How the listener's connection shows in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "connections cache";

pub struct Cache {
    /// True while the listener (or poller) is connected.
    live: AtomicBool,
    state: Mutex<State>,
    /// SQLite: the id of the last `cache_changes` row applied; negative before the poller's first read.
    seen: AtomicI64,
    /// Hits and misses per kind (`KINDS`), for the metrics.
    lookups: [[AtomicU64; 2]; KINDS.len()],
}

/// What the cache holds, in the order of `Cache::lookups`.
const KINDS: [&str; 3] = ["session", "token", "connection"];
const SESSION: usize = 0;
const TOKEN: usize = 1;
const CONNECTION: usize = 2;

impl Default for Cache {
    fn default() -> Cache {
        Cache {
            live: AtomicBool::new(false),
            state: Mutex::default(),
            seen: AtomicI64::new(-1),
            lookups: Default::default(),
        }
    }
}

#[derive(Default)]
struct State {
    /// Bumped by every change, so that an entry read from the database before a change is not
    /// cached after it.
    epoch: u64,
    /// By the hash of the session cookie.
    sessions: HashMap<String, (Session, User)>,
    /// By the hash of the token.
    tokens: HashMap<String, LiveToken>,
    /// By link name (which never changes), with when it was read.
    connections: HashMap<String, (Arc<Loaded>, Instant)>,
    /// When the listener last showed that its connection works.
    heard: Option<Instant>,
    /// How many connections need attention (the navigation's badge), and the clock time from which
    /// it no longer holds (a refresh token comes within a week of expiring; `None`: never). Any
    /// change to a connection, a service or a user may change it too.
    attention: Option<(i64, Option<i64>)>,
}

impl State {
    fn clear(&mut self) {
        self.sessions.clear();
        self.tokens.clear();
        self.connections.clear();
        self.attention = None;
    }
}

impl Cache {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-changed: start from empty.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            state.clear();
            state
        })
    }

    /// The state, if the cache may be used: the listener is connected and was heard from lately.
    fn usable(&self) -> Option<MutexGuard<'_, State>> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let state = self.state();
        state.heard.filter(|heard| heard.elapsed() < STALE_AFTER)?;
        Some(state)
    }

    /// Counts a look-up of `kind` and passes on what it found.
    fn counted<T>(&self, kind: usize, found: Option<T>) -> Option<T> {
        self.lookups[kind][usize::from(found.is_none())].fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Per kind of entry: the look-ups that found one (hits) and those that did not (misses), a
    /// bypassed cache's included.
    pub fn lookups(&self) -> Vec<(&'static str, u64, u64)> {
        let read = |kind: usize, i: usize| self.lookups[kind][i].load(Ordering::Relaxed);
        KINDS.iter().enumerate().map(|(kind, name)| (*name, read(kind, 0), read(kind, 1))).collect()
    }

    /// The cached session of this cookie hash.
    pub fn session(&self, id_hash: &str) -> Option<(Session, User)> {
        self.counted(SESSION, self.usable().and_then(|state| state.sessions.get(id_hash).cloned()))
    }

    /// The cached live token of this hash.
    pub fn token(&self, token_hash: &str) -> Option<LiveToken> {
        self.counted(TOKEN, self.usable().and_then(|state| state.tokens.get(token_hash).cloned()))
    }

    /// The cached connection of this link name.
    pub fn connection(&self, link_name: &str) -> Option<Arc<Loaded>> {
        let found = self.usable().and_then(|state| {
            let (found, read_at) = state.connections.get(link_name)?;
            (read_at.elapsed() < CONNECTION_MAX_AGE).then(|| found.clone())
        });
        self.counted(CONNECTION, found)
    }

    /// The cached count of connections that need attention, while it holds at `now`.
    pub fn attention(&self, now: i64) -> Option<i64> {
        let (count, until) = self.usable()?.attention?;
        until.is_none_or(|until| now < until).then_some(count)
    }

    /// Caches `count`, which holds until the clock reads `until`.
    pub fn put_attention(&self, count: i64, until: Option<i64>, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            state.attention = Some((count, until));
        }
    }

    /// Taken before reading an entry from the database; `put_*` then caches it only if
    /// nothing changed in between.
    pub fn epoch(&self) -> u64 {
        self.state().epoch
    }

    pub fn put_session(&self, id_hash: String, found: (Session, User), epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            bounded_insert(&mut state.sessions, id_hash, found);
        }
    }

    pub fn put_token(&self, token_hash: String, found: LiveToken, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            bounded_insert(&mut state.tokens, token_hash, found);
        }
    }

    pub fn put_connection(&self, link_name: &str, found: Arc<Loaded>, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            bounded_insert(&mut state.connections, link_name.to_owned(), (found, Instant::now()));
        }
    }

    /// The listener's connection just answered.
    fn heard(&self) {
        self.state().heard = Some(Instant::now());
    }

    /// Applies a change's report: `s:<id hash>` (a session ended), `t:<token hash>` (a token was
    /// revoked or deleted), `u:<user id>` (a user changed: their sessions, tokens and the connections
    /// they own), `c:<link name>` (a connection changed: it, and the tokens restricted to it) or
    /// `v:<service id>` (a service changed: its connections). Anything else empties the cache.
    pub fn forget(&self, payload: &str) {
        let mut state = self.state();
        state.epoch += 1;
        if !matches!(payload.split_once(':'), Some(("s" | "t", _))) {
            state.attention = None;
        }
        match payload.split_once(':') {
            Some(("s", id_hash)) => {
                state.sessions.remove(id_hash);
            }
            Some(("t", token_hash)) => {
                state.tokens.remove(token_hash);
            }
            Some(("u", user)) => match user.parse::<i64>() {
                Ok(user) => {
                    state.sessions.retain(|_, (_, u)| u.id != user);
                    state.tokens.retain(|_, found| found.user.id != user);
                    state.connections.retain(|_, (c, _)| c.row.owner_id != user);
                }
                Err(_) => state.clear(),
            },
            Some(("c", link_name)) => {
                state.connections.remove(link_name);
                // A deleted connection drops out of the tokens restricted to it.
                state.tokens.retain(|_, found| !found.scope.names(link_name));
            }
            Some(("v", service)) => match service.parse::<i64>() {
                Ok(service) => state.connections.retain(|_, (c, _)| c.service.id != service),
                Err(_) => state.clear(),
            },
            _ => state.clear(),
        }
    }

    /// Empties the cache, and uses it from now on or not at all.
    fn reset(&self, live: bool) {
        let mut state = self.state();
        state.epoch += 1;
        state.clear();
        state.heard = live.then(Instant::now);
        self.live.store(live, Ordering::Release);
    }
}

/// Inserts into `map`, starting it again when it is full.
fn bounded_insert<T>(map: &mut HashMap<String, T>, key: String, value: T) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

/// The cache for `db`, when it can have one (not for an in-memory SQLite database). The changes this
/// instance makes through `db` reach it at once (see `changes`).
pub fn for_database(db: &Db) -> Option<Arc<Cache>> {
    if db.in_memory() {
        return None;
    }
    let cache = Arc::new(Cache::default());
    changes::apply_own_changes(db, cache.clone());
    Some(cache)
}

/// Keeps `cache` current until `stop` says so or its sender is dropped: a listener on PostgreSQL, a
/// poller on SQLite.
pub fn watch(db: &Db, url: &str, cache: Arc<Cache>, stop: tokio::sync::watch::Receiver<bool>) {
    let stopped = move || stop.has_changed().is_err() || *stop.borrow();
    match db.backend() {
        Backend::Postgres => listen::listen(db.clone(), url.to_owned(), cache, stopped),
        Backend::Sqlite => poll::poll(db.clone(), url.to_owned(), cache, stopped),
    }
}

#[cfg(test)]
mod tests;
