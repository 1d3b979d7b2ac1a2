//! The embedded migrations of each backend, and what an upgrade needs to know about them: which ones
//! are pending (`connections migrate --check`), and which ones the database has applied that this
//! binary does not know. Those mean a newer binary upgraded the database; an older one refuses to
//! start on it rather than run against a schema it was not written for.

use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConn;
use crate::error::AppError;

pub(super) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(super) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

fn failed(e: impl std::fmt::Display) -> AppError {
    AppError::Startup(format!("cannot read the database's migrations: {e}"))
}

/// The names of the migrations this binary would apply, oldest first.
pub fn pending(conn: &mut DbConn) -> Result<Vec<String>, AppError> {
    fn names<DB: diesel::backend::Backend>(list: Vec<Box<dyn Migration<DB>>>) -> Vec<String> {
        list.iter().map(|m| m.name().to_string()).collect()
    }
    Ok(match conn {
        DbConn::Sqlite(c) => names(c.pending_migrations(SQLITE_MIGRATIONS).map_err(failed)?),
        DbConn::Pg(c) => names(c.pending_migrations(POSTGRES_MIGRATIONS).map_err(failed)?),
    })
}

/// The versions of the migrations the database has applied that this binary does not know, oldest
/// first.
pub fn unknown(conn: &mut DbConn) -> Result<Vec<String>, AppError> {
    fn versions<DB: diesel::backend::Backend>(list: Vec<Box<dyn Migration<DB>>>) -> Vec<String> {
        list.iter().map(|m| m.name().version().to_string()).collect()
    }
    let (applied, known) = match conn {
        DbConn::Sqlite(c) => (
            c.applied_migrations().map_err(failed)?,
            versions(
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS).map_err(failed)?,
            ),
        ),
        DbConn::Pg(c) => (
            c.applied_migrations().map_err(failed)?,
            versions(MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS).map_err(failed)?),
        ),
    };
    let mut unknown: Vec<String> =
        applied.iter().map(ToString::to_string).filter(|version| !known.contains(version)).collect();
    unknown.sort();
    Ok(unknown)
}

/// Refuses a database that a newer binary has migrated, naming the migrations this one lacks.
pub fn refuse_newer(conn: &mut DbConn) -> Result<(), AppError> {
    let unknown = unknown(conn)?;
    if unknown.is_empty() {
        return Ok(());
    }
    Err(AppError::Startup(format!(
        "this database has applied migration(s) {} that this binary (Connections {}) does not know: a newer \
         version upgraded it. Upgrade this binary to that version or later; nothing was changed.",
        unknown.join(", "),
        env!("CARGO_PKG_VERSION")
    )))
}
