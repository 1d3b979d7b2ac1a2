//! `connections migrate`: apply the pending migrations, or list them with `--check`.

use super::DbArgs;
use crate::db::Db;
use crate::error::AppError;

/// What `migrate` found or did, and whether anything is left pending (`--check`'s exit status).
pub struct Migrated {
    pub report: String,
    pub pending: bool,
}

/// `migrate`: with `check`, lists the pending migrations; otherwise applies them. Either way a
/// database that a newer binary migrated is refused.
pub fn run_migrate(check: bool, db: &DbArgs) -> Result<Migrated, AppError> {
    let db = Db::connect(&db.database_url, 2)?;
    let mut conn = db.get()?;
    crate::db::migrations::refuse_newer(&mut conn)?;
    let pending = crate::db::migrations::pending(&mut conn)?;
    drop(conn);
    let list = |names: &[String]| names.iter().map(|n| format!("\n  {n}")).collect::<String>();
    if pending.is_empty() {
        return Ok(Migrated {
            report: "the database is up to date: no migration is pending".into(),
            pending: false,
        });
    }
    if check {
        let report = format!("{} migration(s) pending:{}", pending.len(), list(&pending));
        return Ok(Migrated { report, pending: true });
    }
    db.migrate()?;
    Ok(Migrated {
        report: format!("applied {} migration(s):{}", pending.len(), list(&pending)),
        pending: false,
    })
}
