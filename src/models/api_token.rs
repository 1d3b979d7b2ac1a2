//! API tokens for scripts: shown once at creation, stored as a SHA-256 hash with a short prefix for lists.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{api_tokens, users};
use crate::models::user::User;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    pub token_hash: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
struct NewApiToken<'a> {
    user_id: i64,
    label: &'a str,
    token_hash: &'a str,
    prefix: &'a str,
    created_at: i64,
}

pub fn insert(
    conn: &mut DbConn,
    user_id: i64,
    label: &str,
    token_hash: &str,
    prefix: &str,
    now: i64,
) -> QueryResult<i64> {
    diesel::insert_into(api_tokens::table)
        .values(NewApiToken { user_id, label, token_hash, prefix, created_at: now })
        .returning(api_tokens::id)
        .get_result(conn)
}

/// A live (not revoked) token and its user.
pub fn find_active_with_user(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<(ApiToken, User)>> {
    crate::on_backend!(conn, |c| api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .select((ApiToken::as_select(), User::as_select()))
        .get_result(c)
        .optional())
}

pub fn mark_used(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<()> {
    diesel::update(api_tokens::table.find(id)).set(api_tokens::last_used_at.eq(now)).execute(conn).map(drop)
}

/// Every token with its owner's name, newest first.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<(ApiToken, String)>> {
    api_tokens::table
        .inner_join(users::table)
        .order(api_tokens::id.desc())
        .select((ApiToken::as_select(), users::username))
        .load(conn)
}

/// Revokes a token; returns false when there was no live token with that id.
pub fn revoke(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<bool> {
    diesel::update(api_tokens::table.find(id).filter(api_tokens::revoked_at.is_null()))
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Revokes every live token of a user (a password reset); returns how many.
pub fn revoke_for_user(conn: &mut DbConn, user_id: i64, now: i64) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table.filter(api_tokens::user_id.eq(user_id)).filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}
