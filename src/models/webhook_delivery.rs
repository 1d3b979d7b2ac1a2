//! The webhook delivery queue, which is also each endpoint's delivery log. A delivery is claimed
//! with a lease (one conditional UPDATE: pending, due, and no live lease), so instances sharing the
//! database never send one at the same time; an instance that dies mid-send leaves a lease that
//! runs out, and the delivery is sent again (receivers drop duplicates by `webhook-id`).

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::webhook_deliveries as d;

/// How long a claim lasts: longer than a delivery's own timeout, so a live sender keeps it.
pub const LEASE_SECS: i64 = 60;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// One delivery, as the log shows it and the worker sends it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = d)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub message_id: String,
    pub event: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub response_excerpt: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Queues a delivery, due at once.
pub fn insert(
    conn: &mut DbConn,
    endpoint_id: i64,
    message_id: &str,
    event: &str,
    payload: &str,
    now: i64,
) -> QueryResult<()> {
    diesel::insert_into(d::table)
        .values((
            d::endpoint_id.eq(endpoint_id),
            d::message_id.eq(message_id),
            d::event.eq(event),
            d::payload.eq(payload),
            d::state.eq(PENDING),
            d::attempts.eq(0),
            d::next_attempt_at.eq(now),
            d::created_at.eq(now),
            d::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

fn claimable(now: i64) -> d::BoxedQuery<'static, crate::db::MultiBackend> {
    d::table
        .filter(d::state.eq(PENDING))
        .filter(d::next_attempt_at.le(now))
        .filter(d::lease_until.is_null().or(d::lease_until.lt(now)))
        .into_boxed()
}

/// Whether any delivery is due (a read, so that an idle worker takes no write lock).
pub fn any_due(conn: &mut DbConn, now: i64) -> QueryResult<bool> {
    Ok(!claimable(now).select(d::id).limit(1).load::<i64>(conn)?.is_empty())
}

/// Claims up to `limit` due deliveries for `holder` and returns them, soonest first. The UPDATE
/// checks the conditions again on each row it writes, so of two instances that picked the same ids
/// only one takes each.
pub fn claim(conn: &mut DbConn, holder: &str, now: i64, limit: i64) -> QueryResult<Vec<Delivery>> {
    let ids: Vec<i64> =
        claimable(now).order((d::next_attempt_at, d::id)).limit(limit).select(d::id).load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut claimed = Vec::new();
    for id in ids {
        let taken = diesel::update(
            d::table
                .find(id)
                .filter(d::state.eq(PENDING))
                .filter(d::next_attempt_at.le(now))
                .filter(d::lease_until.is_null().or(d::lease_until.lt(now))),
        )
        .set((d::lease_holder.eq(Some(holder)), d::lease_until.eq(Some(now + LEASE_SECS))))
        .execute(conn)?;
        if taken == 1 {
            claimed.push(id);
        }
    }
    d::table
        .filter(d::id.eq_any(claimed))
        .filter(d::lease_holder.eq(holder))
        .order((d::next_attempt_at, d::id))
        .select(Delivery::as_select())
        .load(conn)
}

/// What one attempt came to.
pub struct Outcome<'a> {
    /// `DELIVERED`, `FAILED` (no more attempts) or `PENDING` (again at `next_attempt_at`).
    pub state: &'static str,
    pub next_attempt_at: i64,
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub excerpt: Option<&'a str>,
}

/// Records an attempt of a delivery `holder` claimed, and gives the claim back.
pub fn finish(conn: &mut DbConn, id: i64, holder: &str, outcome: &Outcome, now: i64) -> QueryResult<()> {
    diesel::update(d::table.find(id).filter(d::lease_holder.eq(holder)))
        .set((
            d::state.eq(outcome.state),
            d::attempts.eq(d::attempts + 1),
            d::next_attempt_at.eq(outcome.next_attempt_at),
            d::lease_holder.eq(None::<String>),
            d::lease_until.eq(None::<i64>),
            d::last_status.eq(outcome.status),
            d::last_error.eq(outcome.error),
            d::response_excerpt.eq(outcome.excerpt),
            d::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// An endpoint's latest deliveries, newest first.
pub fn recent(conn: &mut DbConn, endpoint_id: i64, limit: i64) -> QueryResult<Vec<Delivery>> {
    d::table
        .filter(d::endpoint_id.eq(endpoint_id))
        .order(d::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .load(conn)
}

/// Forgets the deliveries that ended (delivered or failed) before `before`: the log keeps a month.
pub fn prune(conn: &mut DbConn, before: i64) -> QueryResult<usize> {
    diesel::delete(d::table.filter(d::state.ne(PENDING)).filter(d::updated_at.lt(before))).execute(conn)
}
