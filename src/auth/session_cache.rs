//! Sessions this instance has checked, kept in memory on PostgreSQL, where checking one costs a
//! round trip on every request (measured: a third of a list page's database work, and with it the
//! context switches around it). The database stays the only record: a cached session is used only
//! while
//! - a listener connection hears every change that could matter (triggers of migration 000024 send
//!   `NOTIFY connections_sessions` when a session row is deleted and when its user changes), and has
//!   shown it is alive within the last `STALE_AFTER`;
//! - it needs no write: within the minute after its last recorded use, unexpired and enabled.
//!
//! A notification removes the entries it names; losing the listener clears the cache and bypasses it
//! until the listener is back. A sign-out here takes effect at once; a sign-out, a role change or a
//! disabled account on another instance or through the CLI reaches this one within about `POLL`.
//! SQLite has no cache: its sessions are read in-process anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::models::session::Session;
use crate::models::user::User;

/// How often the listener reads what PostgreSQL has sent it.
const POLL: Duration = Duration::from_millis(5);
/// How often the listener checks that its connection still works.
const PING: Duration = Duration::from_secs(1);
/// A listener not heard from for this long may be cut off (a ping waiting on a lost network, which
/// would otherwise keep the cache in use): the cache is bypassed until it answers again.
const STALE_AFTER: Duration = Duration::from_secs(3);
/// Past this many sessions the cache starts again (a bound, not an eviction policy).
const MAX_ENTRIES: usize = 10_000;
const CHANNEL: &str = "connections_sessions";

#[derive(Default)]
pub struct SessionCache {
    /// True while the listener is connected and listening.
    live: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every change, so that a session read from the database before a change is not
    /// cached after it.
    epoch: u64,
    entries: HashMap<String, (Session, User)>,
    /// When the listener last showed that its connection works.
    heard: Option<Instant>,
}

impl SessionCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-changed: start from empty.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            state.entries.clear();
            state
        })
    }

    /// The cached session of this cookie hash, if the cache may be used.
    pub fn get(&self, id_hash: &str) -> Option<(Session, User)> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let state = self.state();
        state.heard.filter(|heard| heard.elapsed() < STALE_AFTER)?;
        state.entries.get(id_hash).cloned()
    }

    /// The listener's connection just answered.
    fn heard(&self) {
        self.state().heard = Some(Instant::now());
    }

    /// Taken before reading a session from the database; `put` then caches it only if nothing
    /// changed in between.
    pub fn epoch(&self) -> u64 {
        self.state().epoch
    }

    pub fn put(&self, id_hash: String, found: (Session, User), epoch: u64) {
        let mut state = self.state();
        if !self.live.load(Ordering::Acquire) || state.epoch != epoch {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert(id_hash, found);
    }

    /// Applies a notification: `s:<id hash>` (a session ended) or `u:<user id>` (a user changed).
    pub fn forget(&self, payload: &str) {
        let mut state = self.state();
        state.epoch += 1;
        match payload.split_once(':') {
            Some(("s", id_hash)) => {
                state.entries.remove(id_hash);
            }
            Some(("u", user)) => match user.parse::<i64>() {
                Ok(user) => state.entries.retain(|_, (_, u)| u.id != user),
                Err(_) => state.entries.clear(),
            },
            _ => state.entries.clear(),
        }
    }

    /// Empties the cache, and uses it from now on or not at all.
    fn reset(&self, live: bool) {
        let mut state = self.state();
        state.epoch += 1;
        state.entries.clear();
        state.heard = live.then(Instant::now);
        self.live.store(live, Ordering::Release);
    }
}

/// Starts the listener thread for `cache` on the PostgreSQL database at `url`. It ends when `stop`
/// says so or its sender is dropped.
pub fn listen(url: String, cache: Arc<SessionCache>, stop: tokio::sync::watch::Receiver<bool>) {
    let stopped = move || stop.has_changed().is_err() || *stop.borrow();
    let spawned = std::thread::Builder::new().name("session-listener".into()).spawn(move || {
        while !stopped() {
            let listening = PgConnection::establish(&url).map_err(|e| e.to_string()).and_then(|mut conn| {
                conn.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| e.to_string())?;
                Ok(conn)
            });
            match listening {
                Ok(mut conn) => {
                    cache.reset(true);
                    let failure = relay(&mut conn, &cache, &stopped);
                    cache.reset(false);
                    if let Some(e) = failure {
                        tracing::warn!(error = %e, "session listener lost its connection; sessions are read from the database meanwhile");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "session listener cannot connect; sessions are read from the database meanwhile"),
            }
            if !stopped() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "session listener not started; sessions are read from the database");
    }
}

/// Hands notifications to the cache until `stopped`, or until the connection fails (returned).
fn relay(conn: &mut PgConnection, cache: &SessionCache, stopped: &impl Fn() -> bool) -> Option<diesel::result::Error> {
    let mut pinged = Instant::now();
    while !stopped() {
        std::thread::sleep(POLL);
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) => cache.forget(&n.payload),
                Err(e) => return Some(e),
            }
        }
        if pinged.elapsed() >= PING {
            if let Err(e) = conn.batch_execute("SELECT 1") {
                return Some(e);
            }
            cache.heard();
            pinged = Instant::now();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: &str, user: i64) -> (Session, User) {
        let session = Session { id_hash: hash.into(), user_id: user, csrf_token: "t".into(), created_at: 0, last_seen_at: 0 };
        let user = User {
            id: user,
            username: format!("user{user}"),
            password_hash: String::new(),
            role: "sdadmin".into(),
            disabled: false,
            failed_logins: 0,
            locked_until: None,
            created_at: 0,
            updated_at: 0,
        };
        (session, user)
    }

    fn live_cache() -> SessionCache {
        let cache = SessionCache::default();
        cache.reset(true);
        cache
    }

    #[test]
    fn nothing_is_cached_or_served_without_a_listener() {
        let cache = SessionCache::default();
        cache.put("a".into(), entry("a", 1), cache.epoch());
        assert!(cache.get("a").is_none());
        let cache = live_cache();
        cache.put("a".into(), entry("a", 1), cache.epoch());
        assert!(cache.get("a").is_some());
        cache.reset(false);
        assert!(cache.get("a").is_none(), "a lost listener empties the cache");
    }

    #[test]
    fn notifications_remove_the_sessions_they_name() {
        let cache = live_cache();
        for (hash, user) in [("a", 1), ("b", 1), ("c", 2)] {
            cache.put(hash.into(), entry(hash, user), cache.epoch());
        }
        cache.forget("s:c");
        assert!(cache.get("c").is_none());
        assert!(cache.get("a").is_some());
        cache.forget("u:1");
        assert!(cache.get("a").is_none() && cache.get("b").is_none(), "every session of a changed user");
        cache.put("d".into(), entry("d", 3), cache.epoch());
        cache.forget("garbled");
        assert!(cache.get("d").is_none(), "an unknown notification empties the cache");
    }

    #[test]
    fn a_session_read_before_a_change_is_not_cached_after_it() {
        let cache = live_cache();
        let epoch = cache.epoch();
        cache.forget("u:1");
        cache.put("a".into(), entry("a", 1), epoch);
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn a_listener_not_heard_from_lately_bypasses_the_cache() {
        let cache = live_cache();
        cache.put("a".into(), entry("a", 1), cache.epoch());
        let Some(long_ago) = Instant::now().checked_sub(STALE_AFTER) else { return };
        cache.state().heard = Some(long_ago);
        assert!(cache.get("a").is_none());
        cache.heard();
        assert!(cache.get("a").is_some());
    }
}
