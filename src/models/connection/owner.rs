//! Who owns a connection, and moving connections to another owner. A connection's pending OAuth
//! consents belong to the owner who started them (`oauth_flows.user_id`), so a move ends them: the
//! former owner's consent can no longer store tokens into a connection that is not theirs.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use crate::db::schema::{connections, oauth_flows};
use crate::db::{DbConn, static_sql};

/// Gives connection `id` to `owner_id`, ending its consents in progress.
pub fn set_owner(conn: &mut DbConn, id: i64, owner_id: i64, now: i64) -> QueryResult<()> {
    diesel::delete(oauth_flows::table.filter(oauth_flows::connection_id.eq(id))).execute(conn)?;
    diesel::update(connections::table.find(id))
        .set((connections::owner_id.eq(owner_id), connections::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

/// The link names of `owner_id`'s connections, by name.
pub fn owned_by(conn: &mut DbConn, owner_id: i64) -> QueryResult<Vec<String>> {
    connections::table
        .filter(connections::owner_id.eq(owner_id))
        .order((connections::name_lower, connections::id))
        .select(connections::link_name)
        .load(conn)
}

/// How many connections `owner_id` has.
pub fn count_owned(conn: &mut DbConn, owner_id: i64) -> QueryResult<i64> {
    connections::table.filter(connections::owner_id.eq(owner_id)).count().get_result(conn)
}

/// Gives every connection of `from` to `to` in one statement, ending their consents in progress;
/// returns how many moved.
pub fn move_all(conn: &mut DbConn, from: i64, to: i64, now: i64) -> QueryResult<usize> {
    let of_from = static_sql::<Bool>("connection_id IN (SELECT id FROM connections WHERE owner_id = ")
        .bind::<BigInt, _>(from)
        .sql(")");
    diesel::delete(oauth_flows::table.filter(of_from)).execute(conn)?;
    diesel::update(connections::table.filter(connections::owner_id.eq(from)))
        .set((connections::owner_id.eq(to), connections::updated_at.eq(now)))
        .execute(conn)
}
