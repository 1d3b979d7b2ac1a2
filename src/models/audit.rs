//! The audit log: who did what to which object, from which address, and which fields changed. Never
//! a secret value. Entries are only ever added: the table's triggers (migration 000082) refuse any
//! change or removal outside `opened`, which the retention prune and the redaction of what an older
//! version recorded use.

use diesel::prelude::*;

use crate::db::schema::{audit_log, audit_log_gate};
use crate::db::{DbConn, MultiBackend};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target: String,
    pub details: String,
    pub source: Option<String>,
}

/// An event to record. `details` is JSON text: the changed fields, with their old and new values
/// when they are not secret.
pub struct Event<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    /// The client address the change came from; `None` for the CLI and the app's own work.
    pub source: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target: &'a str,
    pub details: serde_json::Value,
}

/// Who acts, and from where: the part of an `Event` that is the same for every change a request
/// makes.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub source: Option<&'a str>,
}

impl<'a> By<'a> {
    /// An operator at the command line (`connections user …`, `token …`, `keys …`).
    pub const CLI: By<'static> = By { actor_id: None, actor: "cli", source: None };
    /// The app's own upkeep (the retention prune).
    pub const SYSTEM: By<'static> = By { actor_id: None, actor: "system", source: None };

    pub fn event<'b>(
        self,
        action: &'b str,
        target_type: &'b str,
        target: &'b str,
        details: serde_json::Value,
    ) -> Event<'b>
    where
        'a: 'b,
    {
        Event {
            actor_id: self.actor_id,
            actor: self.actor,
            source: self.source,
            action,
            target_type,
            target,
            details,
        }
    }
}

/// The fields whose value differs, each as `{"before": …, "after": …}`: an audit entry's summary of
/// a change. Only for fields that are not secret; a secret is named in a `changed` list instead.
pub fn changes<const N: usize>(
    fields: [(&str, serde_json::Value, serde_json::Value); N],
) -> serde_json::Value {
    let changed =
        fields.into_iter().filter(|(_, before, after)| before != after).map(|(name, before, after)| {
            (name.to_owned(), serde_json::json!({ "before": before, "after": after }))
        });
    serde_json::Value::Object(changed.collect())
}

pub fn record(conn: &mut DbConn, event: Event<'_>, now: i64) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now),
            audit_log::actor_id.eq(event.actor_id),
            audit_log::actor.eq(event.actor),
            audit_log::source.eq(event.source),
            audit_log::action.eq(event.action),
            audit_log::target_type.eq(event.target_type),
            audit_log::target.eq(event.target),
            audit_log::details.eq(event.details.to_string()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table.order(audit_log::id.desc()).limit(limit).select(AuditEntry::as_select()).load(conn)
}

/// Which entries a list or an export shows; every condition is exact, and they all apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target: Option<String>,
    /// From this time on (unix seconds, inclusive).
    pub from: Option<i64>,
    /// Before this time (exclusive).
    pub until: Option<i64>,
}

/// A place in the newest-first order: an entry's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub at: i64,
    pub id: i64,
}

/// Which way a page reads from its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The entries after it in the list (older).
    Older,
    /// The entries before it (newer), for a "newer" link.
    Newer,
}

fn filtered(filter: &Filter) -> audit_log::BoxedQuery<'_, MultiBackend> {
    let mut query = audit_log::table.into_boxed::<MultiBackend>();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action));
    }
    if let Some(target_type) = &filter.target_type {
        query = query.filter(audit_log::target_type.eq(target_type));
    }
    if let Some(target) = &filter.target {
        query = query.filter(audit_log::target.eq(target));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::at.lt(until));
    }
    query
}

/// Up to `limit` entries matching `filter`, newest first, from `after` on in `direction` (from the
/// newest without it). Keyset paging: each page is one range read on an index, however deep.
pub fn page(
    conn: &mut DbConn,
    filter: &Filter,
    after: Option<(Position, Direction)>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let query = filtered(filter).select(AuditEntry::as_select()).limit(limit);
    match after {
        None => query.order((audit_log::at.desc(), audit_log::id.desc())).load(conn),
        Some((p, Direction::Older)) => query
            .filter(audit_log::at.lt(p.at).or(audit_log::at.eq(p.at).and(audit_log::id.lt(p.id))))
            .order((audit_log::at.desc(), audit_log::id.desc()))
            .load(conn),
        Some((p, Direction::Newer)) => {
            let mut rows = query
                .filter(audit_log::at.gt(p.at).or(audit_log::at.eq(p.at).and(audit_log::id.gt(p.id))))
                .order((audit_log::at.asc(), audit_log::id.asc()))
                .load(conn)?;
            rows.reverse();
            Ok(rows)
        }
    }
}

/// Runs `f` with the append-only gate open: in one transaction that opens it first and closes it
/// after, so no other transaction sees it open. Only for removing entries past their retention and
/// redacting what an older version recorded.
pub fn opened<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConn) -> Result<T, E>,
{
    crate::db::write_tx(conn, |c| {
        diesel::insert_into(audit_log_gate::table).values(audit_log_gate::id.eq(1)).execute(c)?;
        let done = f(c)?;
        diesel::delete(audit_log_gate::table).execute(c)?;
        Ok(done)
    })
}

/// Removes up to `batch` entries older than `before` (oldest first). Returns how many went.
pub fn prune_batch(conn: &mut DbConn, before: i64, batch: i64) -> QueryResult<usize> {
    opened(conn, |c| {
        let oldest = audit_log::table
            .filter(audit_log::at.lt(before))
            .order((audit_log::at.asc(), audit_log::id.asc()))
            .select(audit_log::id)
            .limit(batch)
            .load::<i64>(c)?;
        match oldest.is_empty() {
            true => Ok(0),
            false => diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&oldest))).execute(c),
        }
    })
}
