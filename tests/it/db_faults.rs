//! The database under faults, on both backends: on PostgreSQL through a relay the test cuts (every
//! connection reset, new ones refused) or black-holes (connections stay open, nothing passes), on
//! SQLite with the write lock held by a second connection past the busy timeout. The app stays up
//! (`/healthz`), answers 503 with `Retry-After` while the database is away (never 500, never a
//! hang), the first request after it is back succeeds, and activity events recorded meanwhile are
//! written then, or counted and shown when there were too many to keep.

use std::time::Duration;

use connections::activity::{BACKLOG, Entry};
use connections::db::schema::connection_events;
use connections::models::event::NewEvent;
use diesel::prelude::*;
use serde_json::json;

use crate::support::{
    Api, Browser, Page, Relay, SqliteLock, T0, TestApp, TestDb, Upstream, api_key_service, connection,
    eventually, invoke, loopback, row,
};

/// An app whose requests wait at most a second for the database, the admin's API client and
/// browser, an API-key connection `desk` to a recording upstream, and on PostgreSQL the relay the
/// app reaches its database through.
struct Faulty {
    app: TestApp,
    /// Gives up after 20 s: a request the app would hang on fails the test instead of stalling it.
    api: Api,
    /// The same, without a token, for the health checks.
    http: reqwest::Client,
    browser: Browser,
    relay: Option<Relay>,
    _upstream: Upstream,
}

async fn faulty() -> Faulty {
    let db = TestDb::new();
    let (relay, through) = match db.url.starts_with("postgres") {
        true => {
            let (relay, url) = Relay::in_front_of(&db.url).await;
            (Some(relay), Some(url))
        }
        false => (None, None),
    };
    let app = TestApp::spawn_on(db, |config| {
        loopback(config);
        config.database_timeout_secs = 1;
        if let Some(url) = through {
            config.database_url = url;
        }
    })
    .await;
    let upstream = Upstream::start().await;
    let api = Api::admin(&app).await.with_timeout(Duration::from_secs(20));
    let service = json!({
        "name": "Desk", "link_name": "desk", "auth_type": "api_key",
        "api_base_url": format!("{}/api", upstream.url),
        "api_key": {"param_type": "header", "params": [{"name": "X-Api-Key", "display_name": "API Key"}]}
    });
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("desk", "desk", &[])).await;
    let res =
        api.put("/api/v1/connections/desk/credentials", &json!({"params": {"X-Api-Key": "k-123"}})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    Faulty { api, browser: app.admin().await, app, http, relay, _upstream: upstream }
}

impl Faulty {
    async fn invoke(&self) -> Page {
        invoke(&self.api, "desk", json!({"path": "/items"})).await
    }

    /// A write: a new service named `link`.
    async fn create_service(&self, link: &str) -> Page {
        self.api.post("/api/v1/services", &api_key_service(link)).await
    }

    async fn healthz(&self) -> u16 {
        let res = self.http.get(format!("{}/healthz", self.app.base)).send().await.expect("/healthz answers");
        res.status().as_u16()
    }

    async fn readyz(&self) -> u16 {
        let res = self.http.get(format!("{}/readyz", self.app.base)).send().await.expect("/readyz answers");
        res.status().as_u16()
    }

    /// Cuts PostgreSQL off, or takes SQLite's write lock from another connection.
    fn take_away(&self) -> Option<SqliteLock> {
        match &self.relay {
            Some(relay) => {
                relay.cut();
                None
            }
            None => Some(SqliteLock::take(&self.app)),
        }
    }

    fn give_back(&self, lock: Option<SqliteLock>) {
        if let Some(relay) = &self.relay {
            relay.restore();
        }
        drop(lock);
    }
}

fn assert_unavailable(res: &Page, what: &str) {
    assert_eq!(res.status, 503, "{what}: {}", res.body);
    assert_eq!(res.header("retry-after"), "5", "{what}");
}

/// A black hole: connections stay open and nothing comes back. `/healthz` keeps answering, and once
/// the instance has seen that the database no longer answers (its cache is not used then either),
/// an invoke answers 503 after the configured wait instead of hanging; after the database is back,
/// the first invoke succeeds. On SQLite, whose database cannot go silent, the held write lock is
/// the nearest fault: `/healthz` answers and a write answers 503 after the busy timeout.
#[tokio::test]
async fn a_black_holed_database_leaves_healthz_answering_and_invokes_failing_fast_with_503() {
    let f = faulty().await;
    assert_eq!(f.invoke().await.status, 200);
    let Some(relay) = &f.relay else {
        let lock = SqliteLock::take(&f.app);
        assert_eq!(f.healthz().await, 200);
        assert_unavailable(&f.create_service("locked").await, "a write while the lock is held");
        drop(lock);
        assert_eq!(
            f.create_service("unlocked").await.status,
            201,
            "the first write after the lock is released"
        );
        return;
    };
    relay.black_hole();
    assert_eq!(f.healthz().await, 200);
    eventually("/readyz to notice", async || f.readyz().await == 503).await;
    assert_eq!(f.healthz().await, 200);
    // The cache serves the connection while it may (3 s after the database last answered), then
    // the database is asked.
    let mut answers = Vec::new();
    while answers.last() != Some(&503) {
        let res = f.invoke().await;
        assert!(matches!(res.status, 200 | 503), "{}: {}", res.status, res.body);
        if res.status == 503 {
            assert_unavailable(&res, "an invoke");
            assert_eq!(res.json()["error"]["code"], "unavailable");
        }
        answers.push(res.status);
        assert!(answers.len() < 40, "no 503 while the database was black-holed: {answers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(f.healthz().await, 200, "while requests wait for the database");

    relay.restore();
    let res = f.invoke().await;
    assert_eq!(res.status, 200, "the first invoke after the database is back: {}", res.body);
    assert_eq!(f.readyz().await, 200);
}

/// The database goes away (PostgreSQL cut off, every pooled connection dead; SQLite's write lock
/// held): what needs it answers 503 with `Retry-After`, as JSON and as a page; once it is back, the
/// first request succeeds, and so does every one after it.
#[tokio::test]
async fn during_a_database_outage_requests_answer_503_and_the_first_request_after_it_succeeds() {
    let f = faulty().await;
    let page = f.browser.get("/admin/services/new").await;
    assert_eq!(page.status, 200);
    let lock = f.take_away();

    assert_unavailable(&f.create_service("during").await, "an API write");
    let form = [
        ("csrf_token", page.csrf()),
        ("name", "During".into()),
        ("link_name", "during".into()),
        ("auth_type", "basic".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = f.browser.post("/admin/services", &form).await;
    assert_unavailable(&res, "a form");
    assert!(res.header("content-type").starts_with("text/html"), "{}", res.header("content-type"));
    assert!(res.body.contains("The database is unavailable right now; try again shortly."), "{}", res.body);
    if f.relay.is_some() {
        assert_unavailable(&f.api.get("/api/v1/services").await, "an API read");
        assert_unavailable(&f.browser.get("/admin/connections").await, "a page");
    }
    assert_eq!(f.healthz().await, 200);

    f.give_back(lock);
    let res = f.create_service("after").await;
    assert_eq!(res.status, 201, "the first request after the outage: {}", res.body);
    for i in 0..10 {
        assert_eq!(f.api.get("/api/v1/services").await.status, 200, "request {i} after the outage");
        assert_eq!(f.browser.get("/admin/connections").await.status, 200, "page {i} after the outage");
        assert_eq!(f.invoke().await.status, 200, "invoke {i} after the outage");
    }
}

/// An outage that no request saw: the pooled connections died unnoticed, yet the first request after
/// it succeeds, because the cache's listener saw its own connection go, and every pooled one is
/// checked before its next use. (PostgreSQL only: a SQLite connection does not lose its server.)
#[tokio::test]
async fn after_an_outage_that_no_request_saw_the_first_request_succeeds() {
    let f = faulty().await;
    let Some(relay) = &f.relay else { return };
    relay.cut();
    // The listener asks the database every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    relay.restore();
    let res = f.create_service("after").await;
    assert_eq!(res.status, 201, "the first request after the outage: {}", res.body);
    assert_eq!(f.api.get("/api/v1/services").await.status, 200);
}

/// Events recorded while the database takes no writes are kept and written once it does; past the
/// backlog's size they are dropped, and the connection page says how many.
#[tokio::test]
async fn activity_events_recorded_while_the_database_takes_no_writes_are_written_when_it_is_back() {
    let f = faulty().await;
    let id = row(&f.app, "desk").await.id;
    let lock = f.take_away();
    let extra = 3;
    for i in 0..BACKLOG + extra {
        let event = NewEvent {
            kind: "invoke",
            actor: "admin".into(),
            path: Some(format!("/e/{i}")),
            ok: true,
            ..NewEvent::default()
        };
        f.app.state.activity.record(Entry { connection_id: id, event, at: T0, mark_used: false }).await;
    }
    assert!(!f.app.state.activity.flush().await, "nothing can be written yet");
    assert_eq!(f.app.state.activity.dropped(), extra as u64);
    // Long enough for more than one attempt to fail.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    f.give_back(lock);
    eventually("the kept events to be written", async || f.app.state.activity.flush().await).await;
    let count = f
        .app
        .state
        .db
        .run(move |c| {
            Ok(connection_events::table
                .filter(connection_events::connection_id.eq(id))
                .count()
                .get_result::<i64>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(count, BACKLOG as i64, "every kept event, each once");
    let page = f.browser.get("/admin/connections/desk").await;
    assert!(
        page.body.contains(&format!("{extra} activity events (of any connection) could not be recorded")),
        "{}",
        page.body
    );
}
