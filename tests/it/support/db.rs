//! What the database holds, read (and in a few tests written) behind the app's back: a connection's
//! row, its stored tokens and activity, the audit log, a service's sealed secret, the row counts; and
//! SQLite's write lock, held by the test so that the app's writes must wait.

use connections::db::schema::{
    audit_log, connection_events, connections as connections_table, services, users,
};
use connections::models::audit::AuditEntry;
use connections::models::connection::{self as model, ConnectionRow};
use connections::models::event::ConnectionEvent;
use connections::models::service;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::app::TestApp;

/// The connection's row as stored.
pub async fn row(app: &TestApp, link: &str) -> ConnectionRow {
    let link = link.to_owned();
    app.state.db.run(move |c| Ok(model::find(c, &link)?.expect("the connection exists"))).await.unwrap()
}

pub async fn try_row(app: &TestApp, link: &str) -> Option<ConnectionRow> {
    let link = link.to_owned();
    app.state.db.run(move |c| Ok(model::find(c, &link)?)).await.unwrap()
}

/// Audit entries with `action`, oldest first.
pub async fn audit(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let action = action.to_owned();
    app.state
        .db
        .run(move |c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq(action))
                .order(audit_log::id)
                .select(AuditEntry::as_select())
                .load(c)?)
        })
        .await
        .unwrap()
}

/// A connection's recorded activity, oldest first.
pub async fn events(app: &TestApp, link: &str) -> Vec<ConnectionEvent> {
    app.state.activity.flush().await;
    let id = row(app, link).await.id;
    app.state
        .db
        .run(move |c| {
            Ok(connection_events::table
                .filter(connection_events::connection_id.eq(id))
                .order(connection_events::id)
                .select(ConnectionEvent::as_select())
                .load(c)?)
        })
        .await
        .unwrap()
}

/// The access and refresh tokens stored for `link`, opened with the app's keyring.
pub async fn access_token(app: &TestApp, link: &str) -> Option<String> {
    row(app, link).await.open_access_token(&app.state.keyring).unwrap().map(|t| t.expose().to_owned())
}

pub async fn refresh_token(app: &TestApp, link: &str) -> Option<String> {
    row(app, link).await.open_refresh_token(&app.state.keyring).unwrap().map(|t| t.expose().to_owned())
}

/// The number of rows in the services, connections and audit tables.
pub async fn counts(app: &TestApp) -> (i64, i64, i64) {
    app.state
        .db
        .run(|c| {
            Ok((
                services::table.count().get_result(c)?,
                connections_table::table.count().get_result(c)?,
                audit_log::table.filter(audit_log::target_type.eq("service")).count().get_result(c)?,
            ))
        })
        .await
        .unwrap()
}

/// A service's row as stored: id, sealed client secret and the settings JSON.
pub async fn raw_service(app: &TestApp, link: &str) -> (i64, Option<Vec<u8>>, String) {
    let link = link.to_owned();
    app.state
        .db
        .run(move |c| {
            Ok(services::table
                .filter(services::link_name.eq(&link))
                .select((services::id, services::client_secret, services::config))
                .first(c)?)
        })
        .await
        .unwrap()
}

/// The client secret of a service, opened with the app's keyring.
pub async fn opened_secret(app: &TestApp, link: &str) -> Option<String> {
    let (link, keyring) = (link.to_owned(), app.state.keyring.clone());
    app.state
        .db
        .run(move |c| {
            let row = service::find(c, &link)?.expect("service exists");
            Ok(row.open_client_secret(&keyring)?.map(|s| s.expose().to_owned()))
        })
        .await
        .unwrap()
}

/// Every service audit row: (action, target, details).
pub async fn audit_rows(app: &TestApp) -> Vec<(String, String, String)> {
    app.state
        .db
        .run(|c| {
            Ok(audit_log::table
                .filter(audit_log::target_type.eq("service"))
                .order(audit_log::id)
                .select((audit_log::action, audit_log::target, audit_log::details))
                .load(c)?)
        })
        .await
        .unwrap()
}

/// Adds a connection row to a service directly (the connections feature is tested elsewhere).
pub async fn insert_connection(app: &TestApp, service_link: &str, link: &str, name: &str) {
    let (service_link, link, name, now) =
        (service_link.to_owned(), link.to_owned(), name.to_owned(), app.clock.now());
    app.state
        .db
        .run(move |c| {
            let service_id: i64 = services::table
                .filter(services::link_name.eq(&service_link))
                .select(services::id)
                .first(c)?;
            let owner: i64 = users::table.filter(users::username.eq("admin")).select(users::id).first(c)?;
            diesel::insert_into(connections_table::table)
                .values((
                    connections_table::link_name.eq(&link),
                    connections_table::name.eq(&name),
                    connections_table::name_lower.eq(name.to_lowercase()),
                    connections_table::service_id.eq(service_id),
                    connections_table::owner_id.eq(owner),
                    connections_table::scopes_requested.eq("[]"),
                    connections_table::status.eq("not_connected"),
                    connections_table::created_at.eq(now),
                    connections_table::updated_at.eq(now),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

pub async fn delete_connection(app: &TestApp, link: &str) {
    let link = link.to_owned();
    app.state
        .db
        .run(move |c| {
            Ok(diesel::delete(connections_table::table.filter(connections_table::link_name.eq(&link)))
                .execute(c)?)
        })
        .await
        .unwrap();
}

/// SQLite's write lock, held by a connection of the test's own until dropped.
pub struct SqliteLock(diesel::SqliteConnection);

impl SqliteLock {
    pub fn take(app: &TestApp) -> SqliteLock {
        let path = app.state.config.database_url.trim_start_matches("sqlite://").to_owned();
        let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
        conn.batch_execute("BEGIN IMMEDIATE").unwrap();
        SqliteLock(conn)
    }
}

impl Drop for SqliteLock {
    fn drop(&mut self) {
        self.0.batch_execute("COMMIT").unwrap();
    }
}
