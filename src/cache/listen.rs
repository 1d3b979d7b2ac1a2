//! PostgreSQL: a listener connection hears the triggers' `NOTIFY` (migration 000036) and hands each
//! payload to the cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use super::{Cache, LISTENER_NAME};
use crate::db::Db;

/// How often the listener reads what PostgreSQL has sent it (a read of its socket).
pub(super) const POLL: Duration = Duration::from_millis(5);
/// How often the listener checks that its connection still works.
const PING: Duration = Duration::from_secs(1);

const CHANNEL: &str = "connections_cache";

/// Starts the listener thread for `cache` on the PostgreSQL database at `url`. It ends when `stopped`
/// says so. Its pings also tell `db` that the database answers (see `Db::read`).
///
/// A ping to a server that went silent waits until the connection's client-side timeouts end it
/// (see `db::pg_url`); meanwhile the cache is bypassed (`STALE_AFTER`), and `db` sends its reads
/// where a wait is bounded.
pub(super) fn listen(db: Db, url: String, cache: Arc<Cache>, stopped: impl Fn() -> bool + Send + 'static) {
    let url = crate::db::with_client_timeouts(&url);
    let spawned = std::thread::Builder::new().name("cache-listener".into()).spawn(move || {
        while !stopped() {
            let listening = PgConnection::establish(&url).map_err(|e| e.to_string()).and_then(|mut conn| {
                conn.batch_execute(&format!("SET application_name = '{LISTENER_NAME}'; LISTEN {CHANNEL}"))
                    .map_err(|e| e.to_string())?;
                Ok(conn)
            });
            match listening {
                Ok(mut conn) => {
                    cache.reset(true);
                    let failure = relay(&mut conn, &db, &cache, &stopped);
                    cache.reset(false);
                    if let Some(e) = failure {
                        db.lost_one();
                        tracing::warn!(
                            error = %e,
                            "cache listener lost its connection; sessions, tokens and connections are read \
                             from the database meanwhile"
                        );
                    }
                }
                Err(e) => {
                    db.lost_one();
                    let why = format!(
                        "cache listener cannot connect ({e}); sessions, tokens and connections are read from \
                         the database meanwhile"
                    );
                    crate::logs::warn("the cache listener", &why);
                }
            }
            if !stopped() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(
            error = %e,
            "cache listener not started; sessions, tokens and connections are read from the database"
        );
    }
}

/// Hands notifications to the cache until `stopped`, or until the connection fails (returned).
fn relay(
    conn: &mut PgConnection,
    db: &Db,
    cache: &Cache,
    stopped: &impl Fn() -> bool,
) -> Option<diesel::result::Error> {
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
            db.answered();
            cache.heard();
            pinged = Instant::now();
        }
    }
    None
}
