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
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id_hash: &'a str,
    user_id: i64,
    csrf_token: &'a str,
    created_at: i64,
    last_seen_at: i64,
}

pub fn insert(conn: &mut DbConn, id_hash: &str, user_id: i64, csrf_token: &str, now: i64) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(NewSession { id_hash, user_id, csrf_token, created_at: now, last_seen_at: now })
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

/// Removes sessions idle or older than the limits; run now and then, not on every request.
pub fn delete_expired(conn: &mut DbConn, idle_before: i64, created_before: i64) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::last_seen_at.lt(idle_before).or(sessions::created_at.lt(created_before))),
    )
    .execute(conn)
}
