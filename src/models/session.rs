//! Browser sessions, stored in the database so that sign-out and role changes take effect on every
//! app instance at once. Only a hash of the cookie value is stored.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{sessions, users};
use crate::models::user::User;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The browser's `User-Agent` at sign-in (cut short, control characters removed).
    pub user_agent: Option<String>,
    /// The client address at sign-in.
    pub address: Option<String>,
}

/// A new session: who, and what it was started from.
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub user_agent: Option<&'a str>,
    pub address: Option<&'a str>,
}

pub fn insert(conn: &mut DbConn, new: &NewSession<'_>, now: i64) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(new.id_hash),
            sessions::user_id.eq(new.user_id),
            sessions::csrf_token.eq(new.csrf_token),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::user_agent.eq(new.user_agent),
            sessions::address.eq(new.address),
        ))
        .execute(conn)
        .map(drop)
}

/// The session and its user, in one query.
pub fn find_with_user(conn: &mut DbConn, id_hash: &str) -> QueryResult<Option<(Session, User)>> {
    crate::on_backend!(conn, |c| sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(id_hash))
        .select((Session::as_select(), User::as_select()))
        .get_result(c)
        .optional())
}

pub fn touch(conn: &mut DbConn, id_hash: &str, now: i64) -> QueryResult<()> {
    diesel::update(sessions::table.find(id_hash)).set(sessions::last_seen_at.eq(now)).execute(conn).map(drop)
}

pub fn delete(conn: &mut DbConn, id_hash: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn).map(drop)
}

/// Ends every session of a user (password, role or status change).
pub fn delete_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Ends every session of a user but `keep` (their own password change keeps the session it was
/// made in).
pub fn delete_others_of_user(conn: &mut DbConn, user_id: i64, keep: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::id_hash.ne(keep)))
        .execute(conn)
}

/// Ends session `id_hash` if it is `user_id`'s; whether it was.
pub fn delete_of_user(conn: &mut DbConn, user_id: i64, id_hash: &str) -> QueryResult<bool> {
    diesel::delete(sessions::table.find(id_hash).filter(sessions::user_id.eq(user_id)))
        .execute(conn)
        .map(|n| n == 1)
}

/// A user's sessions still within both timeouts (last seen at or after `idle_since`, created at or
/// after `created_since`), the most recently seen first.
pub fn live_of_user(
    conn: &mut DbConn,
    user_id: i64,
    idle_since: i64,
    created_since: i64,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::last_seen_at.ge(idle_since))
        .filter(sessions::created_at.ge(created_since))
        .order((sessions::last_seen_at.desc(), sessions::created_at.desc()))
        .select(Session::as_select())
        .load(conn)
}

/// How many sessions within both timeouts each user has, for the users who have any.
pub fn live_counts(conn: &mut DbConn, idle_since: i64, created_since: i64) -> QueryResult<Vec<(i64, i64)>> {
    sessions::table
        .filter(sessions::last_seen_at.ge(idle_since))
        .filter(sessions::created_at.ge(created_since))
        .group_by(sessions::user_id)
        .select((sessions::user_id, diesel::dsl::count_star()))
        .load(conn)
}

/// Removes sessions idle or older than the limits; run now and then, not on every request.
pub fn delete_expired(conn: &mut DbConn, idle_before: i64, created_before: i64) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::last_seen_at.lt(idle_before).or(sessions::created_at.lt(created_before))),
    )
    .execute(conn)
}
