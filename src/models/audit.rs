//! The audit log: who did what to which object, and which fields changed. Never a secret value.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::audit_log;

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
}

/// An event to record. `details` is JSON text (for example the names of the changed fields).
pub struct Event<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target: &'a str,
    pub details: serde_json::Value,
}

pub fn record(conn: &mut DbConn, event: Event<'_>, now: i64) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now),
            audit_log::actor_id.eq(event.actor_id),
            audit_log::actor.eq(event.actor),
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
