//! The SMTP server email alerts go through: one row, its password sealed and opened only to sign
//! in to the server.

use diesel::prelude::*;

use crate::crypto::{Keyring, Secret, SecretSlot};
use crate::db::DbConn;
use crate::db::schema::smtp_settings as s;
use crate::error::AppError;

const SLOT: SecretSlot<'static> = SecretSlot::new("smtp_settings", "password", "1");

/// The settings as stored. `Debug` leaves the password out.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = s)]
pub struct Smtp {
    pub host: String,
    pub port: i32,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    pub username: String,
    password: Option<Vec<u8>>,
    pub from_address: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("host", &self.host).field("port", &self.port).finish_non_exhaustive()
    }
}

impl Smtp {
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    pub fn open_password(&self, keyring: &Keyring) -> Result<Option<Secret>, AppError> {
        Ok(self.password.as_deref().map(|sealed| keyring.open(&SLOT, sealed)).transpose()?)
    }
}

/// What an admin sets; `password`: `None` keeps the stored one (a blank field), unless there is
/// no username, which clears it.
pub struct SmtpInput {
    pub host: String,
    pub port: i32,
    pub security: String,
    pub username: String,
    pub password: Option<Secret>,
    pub from_address: String,
}

pub fn get(conn: &mut DbConn) -> QueryResult<Option<Smtp>> {
    s::table.find(1).select(Smtp::as_select()).get_result(conn).optional()
}

/// Stores the settings (the one row, created the first time).
pub fn put(conn: &mut DbConn, keyring: &Keyring, input: &SmtpInput, now: i64) -> Result<(), AppError> {
    let sealed = input.password.as_ref().map(|p| keyring.seal(&SLOT, p)).transpose()?;
    crate::db::write_tx(conn, |conn| {
        let kept = match (&sealed, input.username.is_empty()) {
            (_, true) => None,
            (Some(new), false) => Some(new.clone()),
            (None, false) => s::table.find(1).select(s::password).get_result(conn).optional()?.flatten(),
        };
        diesel::delete(s::table).execute(conn)?;
        diesel::insert_into(s::table)
            .values((
                s::id.eq(1),
                s::host.eq(&input.host),
                s::port.eq(input.port),
                s::security.eq(&input.security),
                s::username.eq(&input.username),
                s::password.eq(kept),
                s::from_address.eq(&input.from_address),
                s::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Whether the password is set (the keyring's start-up check).
pub fn holds_sealed(conn: &mut DbConn) -> QueryResult<bool> {
    Ok(s::table.filter(s::password.is_not_null()).select(s::id).first::<i32>(conn).optional()?.is_some())
}
