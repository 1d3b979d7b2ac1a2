//! What this instance reads on every request, kept in memory on PostgreSQL, where each read costs a
//! round trip (measured: a third of a list page's database work; for an invoke, loading its
//! connection was most of the difference from SQLite): the sessions and API tokens it has checked,
//! the connections it has invoked with their services, and the services' labels that connection
//! lists show (looked up once a row, they were a third of the list statement's server time). The database stays the only record: a
//! cached entry is used only while
//! - a listener connection hears every change that could matter (triggers of migrations 000024 to
//!   000026 send `NOTIFY connections_sessions` when a session row is deleted, a token is revoked or
//!   deleted, a user, a connection or a service changes), and has shown it is alive within the last
//!   `STALE_AFTER`;
//! - for sessions and tokens, it needs no write: within the minute after its last recorded use,
//!   unexpired and enabled (the callers check this).
//!
//! A notification removes the entries it names; losing the listener clears the cache and bypasses it
//! until the listener is back. A change made here takes effect here at once (its code removes the
//! entry too); a sign-out, a revoked token or connection, new credentials, a role change or a
//! service change on another instance or through the CLI reaches this one within about `POLL`.
//! Connections are cached sealed, as stored: their secrets are opened per use, as before. SQLite has
//! no cache: its look-ups run in-process anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::models::api_token::ApiToken;
use crate::models::connection::Loaded;
use crate::models::service::ServiceLabel;
use crate::models::session::Session;
use crate::models::user::User;

/// How often the listener reads what PostgreSQL has sent it.
const POLL: Duration = Duration::from_millis(5);
/// How often the listener checks that its connection still works.
const PING: Duration = Duration::from_secs(1);
/// A listener not heard from for this long may be cut off (a ping waiting on a lost network, which
/// would otherwise keep the cache in use): the cache is bypassed until it answers again.
const STALE_AFTER: Duration = Duration::from_secs(3);
/// Past this many sessions (or tokens, or connections) the cache of them starts again (a bound, not an
/// eviction policy).
const MAX_ENTRIES: usize = 10_000;
/// A cached connection is read again after this long even when no notification came: a bound on
/// what a lost notification can cost (sessions and tokens are re-read within a minute anyway).
const CONNECTION_MAX_AGE: Duration = Duration::from_secs(30);
const CHANNEL: &str = "connections_sessions";
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
    /// When the listener last showed that its connection works.
    heard: Option<Instant>,
}

impl State {
    fn clear(&mut self) {
        self.sessions.clear();
        self.tokens.clear();
        self.connections.clear();
        self.service_labels.clear();
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

    pub fn put_service_labels(&self, found: Vec<(i64, ServiceLabel)>, epoch: u64) {
        if let Some(mut state) = self.usable().filter(|state| state.epoch == epoch) {
            if state.service_labels.len() + found.len() > MAX_ENTRIES {
                state.service_labels.clear();
            }
            state.service_labels.extend(found.into_iter().map(|(id, label)| (id, Arc::new(label))));
        }
    }

    /// The listener's connection just answered.
    fn heard(&self) {
        self.state().heard = Some(Instant::now());
    }

    /// Applies a notification: `s:<id hash>` (a session ended), `t:<token hash>` (a token was
    /// revoked or deleted), `u:<user id>` (a user changed: their sessions, tokens and the connections
    /// they own), `c:<link name>` (a connection changed) or `v:<service id>` (a service changed).
    /// Anything else empties the cache. This instance's own changes call it too.
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

/// Starts the listener thread for `cache` on the PostgreSQL database at `url`. It ends when `stop`
/// says so or its sender is dropped.
pub fn listen(url: String, cache: Arc<Cache>, stop: tokio::sync::watch::Receiver<bool>) {
    let stopped = move || stop.has_changed().is_err() || *stop.borrow();
    let spawned = std::thread::Builder::new().name("cache-listener".into()).spawn(move || {
        while !stopped() {
            let listening = PgConnection::establish(&url).map_err(|e| e.to_string()).and_then(|mut conn| {
                conn.batch_execute(&format!("SET application_name = '{LISTENER_NAME}'; LISTEN {CHANNEL}")).map_err(|e| e.to_string())?;
                Ok(conn)
            });
            match listening {
                Ok(mut conn) => {
                    cache.reset(true);
                    let failure = relay(&mut conn, &cache, &stopped);
                    cache.reset(false);
                    if let Some(e) = failure {
                        tracing::warn!(error = %e, "cache listener lost its connection; sessions, tokens and connections are read from the database meanwhile");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cache listener cannot connect; sessions, tokens and connections are read from the database meanwhile"),
            }
            if !stopped() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cache listener not started; sessions, tokens and connections are read from the database");
    }
}

/// Hands notifications to the cache until `stopped`, or until the connection fails (returned).
fn relay(conn: &mut PgConnection, cache: &Cache, stopped: &impl Fn() -> bool) -> Option<diesel::result::Error> {
    let mut pinged = Instant::now();
    while !stopped() {
        std::thread::sleep(POLL);
        let ping_due = pinged.elapsed() >= PING;
        if ping_due && let Err(e) = conn.batch_execute("SELECT 1") {
            return Some(e);
        }
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) => cache.forget(&n.payload),
                Err(e) => return Some(e),
            }
        }
        // Only after the notifications that arrived with the ping's answer are applied: a cache
        // that was stale must not be used again before them.
        if ping_due {
            cache.heard();
            pinged = Instant::now();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            username: format!("user{id}"),
            password_hash: String::new(),
            role: "sdadmin".into(),
            disabled: false,
            failed_logins: 0,
            locked_until: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn session(hash: &str, user_id: i64) -> (Session, User) {
        (Session { id_hash: hash.into(), user_id, csrf_token: "t".into(), created_at: 0, last_seen_at: 0 }, user(user_id))
    }

    fn token(hash: &str, user_id: i64) -> (ApiToken, User) {
        let token = ApiToken {
            id: 1,
            user_id,
            label: "script".into(),
            token_hash: hash.into(),
            prefix: "abc".into(),
            created_at: 0,
            last_used_at: None,
            revoked_at: None,
        };
        (token, user(user_id))
    }

    /// Connection `link` of service `service`, owned by user `owner`.
    fn loaded(link: &str, service: i64, owner: i64) -> Arc<Loaded> {
        use crate::models::connection::{ConnectionMeta, ConnectionRow};
        use crate::models::service::ServiceRow;
        let meta = ConnectionMeta {
            id: 1,
            link_name: link.into(),
            name: link.into(),
            name_lower: link.into(),
            service_id: service,
            owner_id: owner,
            scopes_requested: "[]".into(),
            scopes_granted: None,
            status: "connected".into(),
            status_message: None,
            connected_at: None,
            expires_at: None,
            has_refresh_token: false,
            last_refresh_at: None,
            last_used_at: None,
            revoke_outcome: None,
            created_at: 0,
            updated_at: 0,
        };
        let row = ConnectionRow {
            meta,
            credentials: None,
            access_token: None,
            refresh_token: None,
            token_version: 0,
            lease_holder: None,
            lease_until: None,
            refresh_failures: 0,
            retry_after: None,
        };
        let service = ServiceRow {
            id: service,
            link_name: format!("service{service}"),
            name: String::new(),
            name_lower: String::new(),
            description: String::new(),
            auth_type: "api_key".into(),
            api_base_url: None,
            config: "{}".into(),
            client_secret: None,
            created_at: 0,
            created_by: String::new(),
            updated_at: 0,
            updated_by: String::new(),
            test_request: None,
            connection_count: 1,
        };
        Arc::new(Loaded { row, service, owner: format!("user{owner}") })
    }

    fn live_cache() -> Cache {
        let cache = Cache::default();
        cache.reset(true);
        cache
    }

    #[test]
    fn nothing_is_cached_or_served_without_a_listener() {
        let cache = Cache::default();
        cache.put_session("a".into(), session("a", 1), cache.epoch());
        cache.put_token("t".into(), token("t", 1), cache.epoch());
        assert!(cache.session("a").is_none() && cache.token("t").is_none());
        let cache = live_cache();
        cache.put_session("a".into(), session("a", 1), cache.epoch());
        cache.put_token("t".into(), token("t", 1), cache.epoch());
        assert!(cache.session("a").is_some() && cache.token("t").is_some());
        cache.reset(false);
        assert!(cache.session("a").is_none() && cache.token("t").is_none(), "a lost listener empties the cache");
    }

    #[test]
    fn notifications_remove_what_they_name() {
        let cache = live_cache();
        for (hash, user) in [("a", 1), ("b", 1), ("c", 2)] {
            cache.put_session(hash.into(), session(hash, user), cache.epoch());
            cache.put_token(hash.into(), token(hash, user), cache.epoch());
        }
        cache.forget("s:c");
        assert!(cache.session("c").is_none() && cache.token("c").is_some(), "a session hash names no token");
        cache.forget("t:c");
        assert!(cache.token("c").is_none());
        assert!(cache.session("a").is_some() && cache.token("a").is_some());
        cache.forget("u:1");
        for hash in ["a", "b"] {
            assert!(cache.session(hash).is_none() && cache.token(hash).is_none(), "everything of a changed user");
        }
        cache.put_session("d".into(), session("d", 3), cache.epoch());
        cache.put_token("d".into(), token("d", 3), cache.epoch());
        cache.forget("garbled");
        assert!(cache.session("d").is_none() && cache.token("d").is_none(), "an unknown notification empties the cache");
    }

    #[test]
    fn an_entry_read_before_a_change_is_not_cached_after_it() {
        let cache = live_cache();
        let epoch = cache.epoch();
        cache.forget("u:1");
        cache.put_session("a".into(), session("a", 1), epoch);
        cache.put_token("t".into(), token("t", 1), epoch);
        assert!(cache.session("a").is_none() && cache.token("t").is_none());
    }

    #[test]
    fn a_listener_not_heard_from_lately_bypasses_the_cache() {
        let cache = live_cache();
        cache.put_session("a".into(), session("a", 1), cache.epoch());
        cache.put_token("t".into(), token("t", 1), cache.epoch());
        let Some(long_ago) = Instant::now().checked_sub(STALE_AFTER) else { return };
        cache.state().heard = Some(long_ago);
        assert!(cache.session("a").is_none() && cache.token("t").is_none());
        cache.heard();
        assert!(cache.session("a").is_some() && cache.token("t").is_some());
    }

    #[test]
    fn a_connection_goes_when_it_its_service_or_its_owner_changes() {
        let cache = live_cache();
        let fill = |cache: &Cache| {
            for (link, service, owner) in [("a", 10, 1), ("b", 10, 2), ("c", 20, 1), ("d", 20, 2)] {
                cache.put_connection(link, loaded(link, service, owner), cache.epoch());
            }
        };
        let held = |cache: &Cache| ["a", "b", "c", "d"].into_iter().filter(|l| cache.connection(l).is_some()).collect::<Vec<_>>();
        fill(&cache);
        assert_eq!(held(&cache), ["a", "b", "c", "d"]);
        cache.forget("c:a");
        assert_eq!(held(&cache), ["b", "c", "d"]);
        cache.forget("v:20");
        assert_eq!(held(&cache), ["b"], "a service change: all of its connections");
        fill(&cache);
        cache.forget("u:2");
        assert_eq!(held(&cache), ["a", "c"], "an owner's change: their connections (the owner's name is shown)");
        fill(&cache);
        cache.forget_connection("d");
        cache.forget_service(10);
        assert_eq!(held(&cache), ["c"], "this instance's own changes");
        cache.forget("v:garbled");
        assert!(held(&cache).is_empty());
    }

    #[test]
    fn a_connection_read_before_a_change_or_without_a_listener_is_not_cached() {
        let cache = live_cache();
        let epoch = cache.epoch();
        cache.forget("c:a");
        cache.put_connection("a", loaded("a", 1, 1), epoch);
        assert!(cache.connection("a").is_none());
        cache.put_connection("a", loaded("a", 1, 1), cache.epoch());
        assert!(cache.connection("a").is_some());
        cache.reset(false);
        assert!(cache.connection("a").is_none());
        cache.put_connection("a", loaded("a", 1, 1), cache.epoch());
        assert!(cache.connection("a").is_none());
    }

    #[test]
    fn a_connection_is_read_again_after_its_maximum_age() {
        let cache = live_cache();
        cache.put_connection("a", loaded("a", 1, 1), cache.epoch());
        assert!(cache.connection("a").is_some());
        let Some(long_ago) = Instant::now().checked_sub(CONNECTION_MAX_AGE) else { return };
        cache.state().connections.get_mut("a").unwrap().1 = long_ago;
        assert!(cache.connection("a").is_none(), "not even a lost notification keeps it longer");
    }
}
