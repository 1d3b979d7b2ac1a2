//! A connection's recent activity: invokes, proxy calls, refreshes and tests, with outcome, latency
//! and the bytes that crossed. Never a secret: the path is stored without its query string.

use diesel::prelude::*;

use crate::db::schema::connection_events;
use crate::db::{DbConn, static_sql};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = connection_events)]
pub struct ConnectionEvent {
    pub id: i64,
    pub connection_id: i64,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub method: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub status: Option<i32>,
    pub latency_ms: i64,
    pub ok: bool,
    pub message: Option<String>,
    pub request_bytes: Option<i64>,
    pub response_bytes: Option<i64>,
}

impl ConnectionEvent {
    pub fn when(&self) -> String {
        crate::clock::format_time(self.at)
    }

    /// A call through the connection (an invoke or a proxy call), which names a method and a URL.
    pub fn is_call(&self) -> bool {
        self.kind == "invoke" || self.kind == "proxy"
    }

    /// The bytes sent and received, as people read them ("1.2 KiB ↑ 3.4 MiB ↓"); empty when the
    /// event has none.
    pub fn sizes(&self) -> String {
        match (self.request_bytes, self.response_bytes) {
            (None, None) => String::new(),
            (sent, received) => format!(
                "{} ↑ {} ↓",
                sent.map_or_else(|| "–".to_owned(), size),
                received.map_or_else(|| "–".to_owned(), size)
            ),
        }
    }
}

/// A byte count in binary units, one decimal from KiB on.
fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// An event to record.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub kind: &'static str,
    pub actor: String,
    pub method: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub status: Option<i32>,
    pub latency_ms: i64,
    pub ok: bool,
    pub message: Option<String>,
    pub request_bytes: Option<i64>,
    pub response_bytes: Option<i64>,
}

pub fn record(conn: &mut DbConn, connection_id: i64, event: &NewEvent, now: i64) -> QueryResult<()> {
    record_all(conn, &[(connection_id, event, now)])
}

/// Records many events in one statement (the activity writer's batch). On PostgreSQL a statement's
/// own cost is about that of the row it writes, so one statement per event would pay it every row.
pub fn record_all(conn: &mut DbConn, events: &[(i64, &NewEvent, i64)]) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        return record_all_pg(c, events);
    }
    let rows: Vec<_> = events
        .iter()
        .map(|&(connection_id, event, now)| {
            (
                connection_events::connection_id.eq(connection_id),
                connection_events::at.eq(now),
                connection_events::kind.eq(event.kind),
                connection_events::actor.eq(&event.actor),
                connection_events::method.eq(&event.method),
                connection_events::host.eq(&event.host),
                connection_events::path.eq(&event.path),
                connection_events::status.eq(event.status),
                connection_events::latency_ms.eq(event.latency_ms),
                connection_events::ok.eq(event.ok),
                connection_events::message.eq(&event.message),
                connection_events::request_bytes.eq(event.request_bytes),
                connection_events::response_bytes.eq(event.response_bytes),
            )
        })
        .collect();
    crate::on_backend!(conn, |c| diesel::insert_into(connection_events::table)
        .values(&rows)
        .execute(c)
        .map(drop))
}

/// PostgreSQL: the batch as one array a column, in one statement prepared once. A multi-row
/// `VALUES`, with thirteen parameters a row, would be parsed and planned again for every batch.
fn record_all_pg(conn: &mut diesel::PgConnection, events: &[(i64, &NewEvent, i64)]) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
    let column = |f: fn(&(i64, &NewEvent, i64)) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
    static_sql::<BigInt>(
        "INSERT INTO connection_events \
         (connection_id, at, kind, actor, method, host, path, status, latency_ms, ok, message, \
         request_bytes, response_bytes) \
         SELECT * FROM unnest(",
    )
    .bind::<Array<BigInt>, _>(events.iter().map(|e| e.0).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<BigInt>, _>(events.iter().map(|e| e.2).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<Text>, _>(events.iter().map(|e| e.1.kind).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<Text>, _>(events.iter().map(|e| e.1.actor.as_str()).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.1.method.clone()))
    .sql(", ")
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.1.host.clone()))
    .sql(", ")
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.1.path.clone()))
    .sql(", ")
    .bind::<Array<Nullable<Integer>>, _>(events.iter().map(|e| e.1.status).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<BigInt>, _>(events.iter().map(|e| e.1.latency_ms).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<Bool>, _>(events.iter().map(|e| e.1.ok).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<Nullable<Text>>, _>(column(|e| e.1.message.clone()))
    .sql(", ")
    .bind::<Array<Nullable<BigInt>>, _>(events.iter().map(|e| e.1.request_bytes).collect::<Vec<_>>())
    .sql(", ")
    .bind::<Array<Nullable<BigInt>>, _>(events.iter().map(|e| e.1.response_bytes).collect::<Vec<_>>())
    .sql(")")
    .execute(conn)
    .map(drop)
}

/// The latest `limit` events of a connection, newest first.
pub fn recent(conn: &mut DbConn, connection_id: i64, limit: i64) -> QueryResult<Vec<ConnectionEvent>> {
    connection_events::table
        .filter(connection_events::connection_id.eq(connection_id))
        .order(connection_events::id.desc())
        .limit(limit)
        .select(ConnectionEvent::as_select())
        .load(conn)
}

/// How many events of `kind` a connection has (tests and the details page).
pub fn count(conn: &mut DbConn, connection_id: i64, kind: &str) -> QueryResult<i64> {
    connection_events::table
        .filter(connection_events::connection_id.eq(connection_id))
        .filter(connection_events::kind.eq(kind))
        .count()
        .get_result(conn)
}
