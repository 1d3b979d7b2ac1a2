//! Portal settings as key/value rows (the alias URL lives here).

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::settings;

/// The portal's alias URL: every callback URL the app shows or sends derives from it.
pub const ALIAS_URL: &str = "alias_url";

pub fn get(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    settings::table.find(key).select(settings::value).get_result(conn).optional()
}

/// Sets a value, creating the row when missing. No ON CONFLICT on the multi backend: update, then insert.
pub fn put(conn: &mut DbConn, key: &str, value: &str, now: i64) -> QueryResult<()> {
    crate::db::write_tx(conn, |conn| {
        let updated = diesel::update(settings::table.find(key))
            .set((settings::value.eq(value), settings::updated_at.eq(now)))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(settings::table)
                .values((settings::key.eq(key), settings::value.eq(value), settings::updated_at.eq(now)))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Sets a value only when none exists yet (first start).
pub fn seed(conn: &mut DbConn, key: &str, value: &str, now: i64) -> QueryResult<()> {
    crate::db::write_tx(conn, |conn| {
        if get(conn, key)?.is_none() {
            diesel::insert_into(settings::table)
                .values((settings::key.eq(key), settings::value.eq(value), settings::updated_at.eq(now)))
                .execute(conn)?;
        }
        Ok(())
    })
}
