//! `connections backup FILE`: a consistent copy of a SQLite database, taken while the app runs.
//! `VACUUM INTO` copies inside one read transaction, so writers go on (WAL) and the copy is the
//! database as it was when the copy began; no file-level copy can promise that. PostgreSQL is backed
//! up with its own tools (`pg_dump`). The copy holds sealed secrets and password hashes: it is
//! created readable by its owner only, and never over an existing file. It holds no key: the key
//! file is backed up on its own (see the README).

use std::path::Path;

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::db::{Backend, DbConn, Manager, check_url, sqlite_path};
use crate::error::AppError;

/// Copies the SQLite database at `database_url` into the new file `target`; returns what to print.
pub fn backup(database_url: &str, target: &Path) -> Result<String, AppError> {
    fn refuse<T>(why: String) -> Result<T, AppError> {
        Err(AppError::BadRequest(why))
    }
    match check_url(database_url) {
        Err(why) => return refuse(format!("invalid DATABASE_URL: {why}")),
        Ok(Backend::Postgres) => {
            return refuse(
                "this database is PostgreSQL: back it up with pg_dump (see \"Backups and restore\" in the \
                 README), and back up the key file too, separately"
                    .into(),
            );
        }
        Ok(Backend::Sqlite) => {}
    }
    let source = sqlite_path(database_url);
    if source.is_empty() || source.contains(":memory:") || !Path::new(source).is_file() {
        return refuse(format!("there is no SQLite database file at {source:?}"));
    }
    let Some(target_text) = target.to_str() else {
        return refuse(format!("the backup file name {} is not UTF-8", target.display()));
    };
    create_private(target).or_else(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => refuse(format!(
            "{} already exists: a backup never overwrites a file; choose a new name",
            target.display()
        )),
        _ => refuse(format!("cannot create {}: {e}", target.display())),
    })?;
    match copy_into(database_url, target_text) {
        Ok(()) => Ok(format!(
            "backed up {source} to {}. It cannot be read without the keyring: back up the key file too, \
             separately.",
            target.display()
        )),
        Err(e) => {
            // A half-written copy must not pass for a backup.
            let _ = std::fs::remove_file(target);
            Err(e)
        }
    }
}

/// Creates `target` empty and private; `VACUUM INTO` fills an empty file (and refuses any other).
fn create_private(target: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(target).map(drop)
}

fn copy_into(database_url: &str, target: &str) -> Result<(), AppError> {
    let manager = Manager::new(database_url, false, Default::default(), crate::db::DEFAULT_WAIT);
    let mut conn =
        manager.open().map_err(|e| AppError::BadRequest(format!("cannot open the database: {e}")))?;
    let DbConn::Sqlite(conn) = &mut conn else {
        return Err(AppError::Internal("a SQLite URL opened another database".into()));
    };
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(target)
        .execute(conn)
        .map_err(|e| AppError::BadRequest(format!("the backup failed: {e}")))?;
    Ok(())
}
