//! What this instance reads on every request, kept in memory (measured on PostgreSQL, where each
//! read costs a round trip: a third of a list page's database work, and for an invoke, loading its
//! connection was most of the difference from SQLite; on SQLite, the token check and the connection
//! load were a fifth of an invoke's CPU): the sessions and API tokens it has checked, the connections
//! it has invoked with their services, and what the lists show besides their rows: connections'
//! services' labels and owners' names, and the counters of connections and services (measured on
//! PostgreSQL: reading the counters and the owner's name in the page's statement cost a fifth of its
//! time on the server). The
//! database stays the only record: a cached entry is used only while
//! - this instance hears of every change that could matter, and has heard from the database within
//!   the last `STALE_AFTER`. Triggers report a deleted session, a revoked or deleted token, and any
//!   change to a user, a connection or a service, and any change to the counters of connections and
//!   services: on PostgreSQL with `NOTIFY` (migrations 000024 to 000026 and 000029, `listen`), on
//!   SQLite by writing to the `cache_changes` table (migrations 000027 and 000029, `poll`);
//! - for sessions and tokens, it needs no write: within the minute after its last recorded use,
//!   unexpired and enabled (the callers check this).
//!
//! A change removes the entries it names; losing the database clears the cache and bypasses it
//! until the database is back. A change made here takes effect here at once (its code removes the
//! entry too); a sign-out, a revoked token or connection, new credentials, a role change or a
//! service change on another instance or through the CLI reaches this one within a few milliseconds
//! (`listen::POLL`, `poll::POLL`).
//! Connections are cached sealed, as stored: their secrets are opened per use, as before. An
//! in-memory SQLite database (tests) has no cache: nothing else can change it, but nothing would
//! report its changes either.

mod listen;
mod poll;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::{Backend, Db};
use crate::domain::service::AuthType;
use crate::models::api_token::ApiToken;
use crate::models::connection::{ListCounts, Loaded};
use crate::models::service::ServiceLabel;
use crate::models::session::Session;
use crate::models::user::User;

/// A listener or poller not heard from for this long may be cut off (a ping waiting on a lost
/// network, a stalled thread), which would otherwise keep the cache in use: the cache is bypassed
/// until it answers again.
const STALE_AFTER: Duration = Duration::from_secs(3);
/// Past this many sessions (or tokens, or connections) the cache of them starts again (a bound, not an
/// eviction policy).
const MAX_ENTRIES: usize = 10_000;
/// A cached connection is read again after this long even when no notification came: a bound on
/// what a lost notification can cost (sessions and tokens are re-read within a minute anyway).
const CONNECTION_MAX_AGE: Duration = Duration::from_secs(30);
/// What the triggers on the counters send (migration 000029).
const COUNTS_CHANGED: &str = "n:counts";
/// How the listener's connection shows in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "connections cache";

#[derive(Default)]
pub struct Cache {
    /// True while the listener is connected and listening.
    live: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every change, so that an entry read from the database before a change is not
    /// cached after it.
    epoch: u64,
    /// By the hash of the session cookie.
    sessions: HashMap<String, (Session, User)>,
    /// By the hash of the token.
    tokens: HashMap<String, (ApiToken, User)>,
    /// By link name (which never changes), with when it was read.
    connections: HashMap<String, (Arc<Loaded>, Instant)>,
    /// What connection lists show of a service, by id.
    service_labels: HashMap<i64, Arc<ServiceLabel>>,
    /// Users' names, by id (connection lists show their owners).
    user_names: HashMap<i64, Arc<str>>,
    /// The counters a connection list shows, by the owner it lists (`None`: everyone's).
    list_counts: HashMap<Option<i64>, ListCounts>,
    /// How many services the Custom Services list counts, by the type it lists (`None`: every type).
    service_totals: HashMap<Option<AuthType>, i64>,
    /// When the listener last showed that its connection works.
    heard: Option<Instant>,
}

impl State {
    fn clear(&mut self) {
        self.sessions.clear();
        self.tokens.clear();
        self.connections.clear();
        self.service_labels.clear();
        self.user_names.clear();
        self.forget_counters();
    }

    fn forget_counters(&mut self) {
        self.list_counts.clear();
        self.service_totals.clear();
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

    /// The cached session of this cookie hash.
    pub fn session(&self, id_hash: &str) -> Option<(Session, User)> {
        self.usable()?.sessions.get(id_hash).cloned()
    }

    /// The cached live token of this hash.
    pub fn token(&self, token_hash: &str) -> Option<(ApiToken, User)> {
        self.usable()?.tokens.get(token_hash).cloned()
    }

    /// The cached connection of this link name.
    pub fn connection(&self, link_name: &str) -> Option<Arc<Loaded>> {
        let state = self.usable()?;
        let (found, read_at) = state.connections.get(link_name)?;
        (read_at.elapsed() < CONNECTION_MAX_AGE).then(|| found.clone())
    }

    /// The cached label of service `id`.
    pub fn service_label(&self, id: i64) -> Option<Arc<ServiceLabel>> {
        self.usable()?.service_labels.get(&id).cloned()
    }

    /// The cached name of user `id`.
    pub fn user_name(&self, id: i64) -> Option<Arc<str>> {
        self.usable()?.user_names.get(&id).cloned()
    }

    /// The cached counters of the list of `owner`'s connections (`None`: everyone's).
    pub fn list_counts(&self, owner: Option<i64>) -> Option<ListCounts> {
        self.usable()?.list_counts.get(&owner).copied()
    }

    /// The cached number of services of type `auth_type` (`None`: of every type).
    pub fn service_total(&self, auth_type: Option<AuthType>) -> Option<i64> {
        self.usable()?.service_totals.get(&auth_type).copied()
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

    pub fn put_token(&self, token_hash: String, found: (ApiToken, User), epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            bounded_insert(&mut state.tokens, token_hash, found);
        }
    }

    pub fn put_connection(&self, link_name: &str, found: Arc<Loaded>, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            if state.connections.len() >= MAX_ENTRIES {
                state.connections.clear();
            }
            state.connections.insert(link_name.to_owned(), (found, Instant::now()));
        }
    }

    pub fn put_service_labels(&self, found: Vec<(i64, Arc<ServiceLabel>)>, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            if state.service_labels.len() + found.len() > MAX_ENTRIES {
                state.service_labels.clear();
            }
            state.service_labels.extend(found);
        }
    }

    pub fn put_user_names(&self, found: Vec<(i64, Arc<str>)>, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            if state.user_names.len() + found.len() > MAX_ENTRIES {
                state.user_names.clear();
            }
            state.user_names.extend(found);
        }
    }

    pub fn put_list_counts(&self, owner: Option<i64>, counts: ListCounts, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            if state.list_counts.len() >= MAX_ENTRIES {
                state.list_counts.clear();
            }
            state.list_counts.insert(owner, counts);
        }
    }

    pub fn put_service_total(&self, auth_type: Option<AuthType>, total: i64, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            state.service_totals.insert(auth_type, total);
        }
    }

    /// The listener's connection just answered.
    fn heard(&self) {
        self.state().heard = Some(Instant::now());
    }

    /// Applies a notification: `s:<id hash>` (a session ended), `t:<token hash>` (a token was
    /// revoked or deleted), `u:<user id>` (a user changed: their sessions, tokens and the connections
    /// they own), `c:<link name>` (a connection changed), `v:<service id>` (a service changed) or
    /// `n:counts` (connections or services were added or removed). Anything else empties the cache.
    /// This instance's own changes call it too.
    pub fn forget(&self, payload: &str) {
        let mut state = self.state();
        state.epoch += 1;
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
                    state.tokens.retain(|_, (_, u)| u.id != user);
                    state.connections.retain(|_, (c, _)| c.row.owner_id != user);
                    state.user_names.remove(&user);
                }
                Err(_) => state.clear(),
            },
            Some(("c", link_name)) => {
                state.connections.remove(link_name);
            }
            Some(("v", service)) => match service.parse::<i64>() {
                Ok(service) => {
                    state.connections.retain(|_, (c, _)| c.service.id != service);
                    state.service_labels.remove(&service);
                }
                Err(_) => state.clear(),
            },
            Some(("n", _)) => state.forget_counters(),
            _ => state.clear(),
        }
    }

    /// This instance changed a connection (the notification will say so too, later).
    pub fn forget_connection(&self, link_name: &str) {
        self.forget(&format!("c:{link_name}"));
    }

    /// This instance changed a service.
    pub fn forget_service(&self, id: i64) {
        self.forget(&format!("v:{id}"));
    }

    /// This instance added or removed a connection or a service.
    pub fn forget_counts(&self) {
        self.forget(COUNTS_CHANGED);
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
fn bounded_insert<T>(map: &mut HashMap<String, (T, User)>, key: String, found: (T, User)) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, found);
}

/// The cache for `db`, when it can have one (not for an in-memory SQLite database).
pub fn for_database(db: &Db) -> Option<Arc<Cache>> {
    (!db.in_memory()).then(Arc::default)
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
