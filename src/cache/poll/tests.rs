use diesel::connection::SimpleConnection;

use super::*;
use crate::cache::tests::session;

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("connections.db").display())
}

fn sqlite(dir: &tempfile::TempDir) -> Db {
    let db = Db::connect(&url(dir), 2).unwrap();
    db.migrate().unwrap();
    db
}

fn execute(db: &Db, sql: &str) {
    db.get().unwrap().batch_execute(sql).unwrap();
}

/// A cache, and the poller's reader and connection.
struct Poller {
    cache: Cache,
    reader: Reader,
    conn: DbConn,
}

impl Poller {
    fn read(&mut self) -> Result<(), AppError> {
        self.reader.read(&mut self.conn, &self.cache)
    }
}

/// A cache that a first read has started, holding the sessions of users 1 and 2.
fn started(dir: &tempfile::TempDir) -> Poller {
    let conn = crate::db::open_small_reader(&url(dir)).unwrap();
    let mut p =
        Poller { cache: Cache::default(), reader: Reader { started: false, read_at: Instant::now() }, conn };
    p.read().unwrap();
    for (hash, user) in [("a", 1), ("b", 2)] {
        p.cache.put_session(hash.into(), session(hash, user), p.cache.epoch());
    }
    assert!(
        p.cache.session("a").is_some() && p.cache.session("b").is_some(),
        "the first read makes the cache usable"
    );
    p
}

#[test]
fn a_change_logged_by_a_trigger_removes_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    execute(
        &db,
        "INSERT INTO users (id, username, password_hash, role, created_at, updated_at) \
         VALUES (1, 'u1', 'x', 'sdadmin', 0, 0)",
    );
    let mut p = started(&dir);
    execute(&db, "UPDATE users SET role = 'technician' WHERE id = 1");
    p.read().unwrap();
    assert!(p.cache.session("a").is_none(), "user 1 changed");
    assert!(p.cache.session("b").is_some());
    p.cache.put_session("a".into(), session("a", 1), p.cache.epoch());
    p.read().unwrap();
    assert!(p.cache.session("a").is_some(), "a change is applied once");
    execute(&db, "UPDATE users SET role = 'sdadmin' WHERE id = 1");
    p.read().unwrap();
    assert!(p.cache.session("a").is_none(), "the same change again: its row was replaced with a newer one");
}

#[test]
fn a_reader_that_fell_behind_or_a_bulk_change_starts_the_cache_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let mut p = started(&dir);
    let Some(long_ago) = Instant::now().checked_sub(STALE_AFTER) else { return };
    p.reader.read_at = long_ago;
    p.read().unwrap();
    assert!(
        p.cache.session("a").is_none() && p.cache.session("b").is_none(),
        "changes it missed may have been removed"
    );

    p.cache.put_session("a".into(), session("a", 1), p.cache.epoch());
    let rows: Vec<String> = (0..=MAX_BATCH).map(|i| format!("('c:link{i}', unixepoch())")).collect();
    execute(&db, &format!("INSERT INTO cache_changes (payload, at) VALUES {}", rows.join(", ")));
    p.read().unwrap();
    assert!(p.cache.session("a").is_none(), "more changes than a batch empty the cache");
    p.cache.put_session("a".into(), session("a", 1), p.cache.epoch());
    p.read().unwrap();
    assert!(p.cache.session("a").is_some(), "and the reader goes on after them");
}

#[test]
fn a_reader_that_cannot_read_leaves_the_cache_unused() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let mut p = started(&dir);
    execute(&db, "ALTER TABLE cache_changes RENAME TO cache_changes_gone");
    assert!(p.read().is_err());
    // What the poller does on an error (see `poll`).
    p.cache.reset(false);
    assert!(p.cache.session("b").is_none());
}

#[test]
fn old_changes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    execute(
        &db,
        "INSERT INTO cache_changes (payload, at) \
         VALUES ('c:old', unixepoch() - 3600), ('c:new', unixepoch())",
    );
    prune(&db).unwrap();
    let left: Vec<String> =
        cache_changes::table.select(cache_changes::payload).load(&mut *db.get().unwrap()).unwrap();
    assert_eq!(left, ["c:new"]);
}
