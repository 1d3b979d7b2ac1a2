//! The last-SDAdmin rule under concurrency: two SDAdmins who demote (or disable) each other at the
//! same moment must leave one of them an active SDAdmin, on SQLite and on PostgreSQL. Each round
//! holds the users table shut (SQLite's write lock; on PostgreSQL a table lock that lets plain reads
//! through) until both requests have passed their guards and wait at the database, then lets them
//! go together: the rule's check and write must then serialise them, and the second is refused.

use std::time::Duration;

use connections::models::user::{self, Role};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::support::{Api, Page, SqliteLock, TestApp};

const ROUNDS: usize = 4;

/// How many enabled SDAdmins the database holds.
async fn active_admins(app: &TestApp) -> usize {
    let users = app.state.db.run(|c| Ok(user::list(c)?)).await.unwrap();
    users.iter().filter(|u| u.role() == Role::SdAdmin && !u.disabled).count()
}

/// Makes `admin` and `bob` enabled SDAdmins again, behind the app's back.
async fn restore(app: &TestApp) {
    let now = app.clock.now();
    app.state
        .db
        .run(move |c| {
            for name in ["admin", "bob"] {
                let u = user::find_by_name(c, name)?.expect("user");
                user::set_role(c, u.id, Role::SdAdmin, now)?;
                user::set_disabled(c, u.id, false, now)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// What holds writers to `users` back while it lives.
enum Gate {
    Sqlite(SqliteLock),
    Postgres(PgConnection),
}

impl Gate {
    fn close(app: &TestApp) -> Gate {
        let url = &app.state.config.database_url;
        if !url.starts_with("postgres") {
            return Gate::Sqlite(SqliteLock::take(app));
        }
        let mut conn = PgConnection::establish(url).unwrap();
        // EXCLUSIVE lets plain reads (the guards) through, and stops `FOR UPDATE` and `UPDATE`.
        conn.batch_execute("BEGIN; LOCK TABLE users IN EXCLUSIVE MODE").unwrap();
        Gate::Postgres(conn)
    }

    /// Waits until `n` statements wait for the gate (PostgreSQL says so; SQLite's busy waits cannot
    /// be seen, so it waits long enough for two guards' reads).
    async fn wait_for(&mut self, n: i64) {
        let Gate::Postgres(conn) = self else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        };
        let waiting = diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        for _ in 0..250 {
            if waiting.clone().get_result::<i64>(conn).unwrap() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the two requests never reached the database");
    }

    fn open(self) {
        match self {
            Gate::Sqlite(lock) => drop(lock),
            Gate::Postgres(mut conn) => conn.batch_execute("COMMIT").unwrap(),
        }
    }
}

/// Runs `ROUNDS` rounds of `admin` and `bob` sending `change` about each other at once.
async fn race(change: Value) {
    let app = TestApp::spawn().await;
    app.add_user("bob", Role::SdAdmin, "bob-password-1234").await;
    let (mut admin, mut bob) = (Api::admin(&app).await, Api::for_user(&app, "bob").await);
    for round in 0..ROUNDS {
        restore(&app).await;
        // Each token's use is recorded now, so that the guards only read while the gate is shut.
        assert_eq!(admin.get("/api/v1/me").await.status, 200);
        assert_eq!(bob.get("/api/v1/me").await.status, 200);
        let mut gate = Gate::close(&app);
        let send = |api: Api, path: &'static str, change: Value| {
            tokio::spawn(async move { (api.patch(path, &change).await, api) })
        };
        let by_admin = send(admin, "/api/v1/users/bob", change.clone());
        let by_bob = send(bob, "/api/v1/users/admin", change.clone());
        gate.wait_for(2).await;
        gate.open();
        let ((by_admin, admin_back), (by_bob, bob_back)) = (by_admin.await.unwrap(), by_bob.await.unwrap());
        check(round, &by_admin, &by_bob);
        assert_eq!(active_admins(&app).await, 1, "round {round}");
        (admin, bob) = (admin_back, bob_back);
    }
}

/// One request changed the other SDAdmin; the other was refused by the rule.
fn check(round: usize, by_admin: &Page, by_bob: &Page) {
    let mut statuses = [by_admin.status, by_bob.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "round {round}: {} / {}", by_admin.body, by_bob.body);
    let refused = if by_admin.status == 409 { by_admin } else { by_bob };
    let message = refused.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("is the last active SDAdmin"), "round {round}: {message}");
}

#[tokio::test]
async fn two_sdadmins_demoting_each_other_at_once_leave_one_active_sdadmin() {
    race(json!({ "role": "technician" })).await;
}

#[tokio::test]
async fn two_sdadmins_disabling_each_other_at_once_leave_one_active_sdadmin() {
    race(json!({ "disabled": true })).await;
}
