//! Nonces already used (see `auth::nonce`), kept until they expire so that none is used twice, on
//! any instance.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::used_nonces;

/// Marks the nonce of this hash used. False when it already was.
pub fn spend(conn: &mut DbConn, hash: &str, expires_at: i64) -> QueryResult<bool> {
    match diesel::insert_into(used_nonces::table)
        .values((used_nonces::hash.eq(hash), used_nonces::expires_at.eq(expires_at)))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Forgets nonces that expired (they can no longer be used anyway).
pub fn prune(conn: &mut DbConn, now: i64) -> QueryResult<usize> {
    diesel::delete(used_nonces::table.filter(used_nonces::expires_at.lt(now))).execute(conn)
}
