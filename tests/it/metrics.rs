//! `GET /metrics`: read with a strict Prometheus text parser after invokes and refreshes of every
//! outcome, checked value by value; refused without the metrics token or with a wrong one, absent
//! when none is configured; and never showing a secret.

use std::sync::{Arc, Barrier};

use connections::crypto::Secret;
use serde_json::json;

use crate::support::{
    Behaviour, Exposition, Page, Setup, TestApp, access_token, assert_hidden, connection, eventually, me,
    parse_exposition, row, setup_with,
};

const METRICS_TOKEN: &str = "metrics-token-for-the-scraper-0123";

async fn scrape(app: &TestApp, token: Option<&str>) -> Page {
    let mut req = app.http().get(format!("{}/metrics", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    Page { status, headers, body: res.text().await.unwrap() }
}

async fn metrics(app: &TestApp) -> (Exposition, String) {
    let page = scrape(app, Some(METRICS_TOKEN)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.header("content-type").starts_with("text/plain; version=0.0.4"), "{:?}", page.headers);
    let parsed = parse_exposition(&page.body).unwrap_or_else(|e| panic!("{e}\n{}", page.body));
    (parsed, page.body)
}

fn with_token(config: &mut connections::config::Config) {
    config.metrics_token = Some(Secret::new(METRICS_TOKEN));
}

#[tokio::test]
async fn metrics_count_invokes_by_status_class_refreshes_by_outcome_and_connections_by_status() {
    let Setup { app, fake, api, .. } = setup_with(with_token, Behaviour::default(), |_| {}).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_spare", &["read"])).await;
    let (before, _) = metrics(&app).await;
    assert_eq!(before.all("connections_invokes_total"), Vec::<&crate::support::Sample>::new());
    for outcome in ["success", "rejected", "client_refused", "failed"] {
        assert_eq!(before.value("connections_token_refreshes_total", &[("outcome", outcome)]), Some(0.0));
    }

    // Two answered at once, one after a refresh and retry (a 401 first), one refused after both.
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(me(&api).await.json()["status"], 200);
    fake.kill(&access_token(&app, "zoho_main").await.unwrap());
    assert_eq!(me(&api).await.json()["status"], 200);
    fake.set(|b| b.api_accepts = false);
    assert_eq!(me(&api).await.json()["status"], 401);
    // The token expired and the provider fails, then rejects the grant: no answer from the service.
    fake.set(|b| {
        b.api_accepts = true;
        b.token_error = Some((503, "temporarily_unavailable"));
    });
    app.clock.advance(3600);
    assert_eq!(me(&api).await.status, 503);
    fake.set(|b| b.token_error = Some((400, "invalid_grant")));
    app.clock.advance(10);
    assert_eq!(me(&api).await.status, 409);
    assert_eq!(row(&app, "zoho_main").await.status().as_str(), "needs_reconnect");
    // Two refreshed, one failed, one rejected (which also offered the token its rotation replaced).
    assert_eq!(fake.grants("refresh_token").len(), 5);

    let (m, body) = metrics(&app).await;
    let invokes =
        |class: &str| m.value("connections_invokes_total", &[("service", "zoho"), ("status_class", class)]);
    assert_eq!((invokes("2xx"), invokes("4xx"), invokes("error")), (Some(3.0), Some(1.0), Some(2.0)));
    assert_eq!((invokes("1xx"), invokes("3xx"), invokes("5xx")), (None, None, None), "no empty series");
    let duration = [("service", "zoho")];
    assert_eq!(m.value("connections_invoke_duration_seconds_count", &duration), Some(6.0));
    let sum = m.value("connections_invoke_duration_seconds_sum", &duration).unwrap();
    assert!(sum > 0.0 && sum < 60.0, "{sum}");
    let refreshes = |outcome: &str| m.value("connections_token_refreshes_total", &[("outcome", outcome)]);
    assert_eq!(
        [refreshes("success"), refreshes("failed"), refreshes("rejected"), refreshes("client_refused")],
        [Some(2.0), Some(1.0), Some(1.0), Some(0.0)]
    );
    let by_status = |status: &str| m.value("connections_connections", &[("status", status)]);
    assert_eq!((by_status("needs_reconnect"), by_status("not_connected")), (Some(1.0), Some(1.0)));
    assert_eq!(by_status("connected"), None);

    // The pools and the caches are there, with what this test made them do.
    let pool = |pool: &str, state: &str| {
        m.value("connections_db_pool_connections", &[("pool", pool), ("state", state)]).unwrap()
    };
    assert!(pool("write", "in_use") + pool("write", "idle") >= 1.0, "{body}");
    assert!(pool("read", "in_use") + pool("read", "idle") >= 1.0, "{body}");
    assert!(m.value("connections_db_pool_waiting", &[]).is_some());
    let lookups = |cache: &str, result: &str| {
        m.value("connections_cache_lookups_total", &[("cache", cache), ("result", result)]).unwrap()
    };
    assert!(lookups("token", "hit") + lookups("token", "miss") >= 7.0, "each API call checks its token");
    assert!(lookups("connection", "hit") + lookups("connection", "miss") >= 6.0, "each invoke loads one");
    assert_eq!(lookups("session", "hit") + lookups("session", "miss"), m_session_lookups(&before));

    let mut secrets = fake.secrets();
    secrets.push(METRICS_TOKEN.to_owned());
    assert_hidden(&body, &secrets, "/metrics");
}

/// The session look-ups of an earlier scrape: the API calls since made none.
fn m_session_lookups(m: &Exposition) -> f64 {
    ["hit", "miss"]
        .iter()
        .map(|r| m.value("connections_cache_lookups_total", &[("cache", "session"), ("result", r)]).unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_need_the_metrics_token_and_do_not_exist_without_one() {
    let app = TestApp::spawn_with(with_token).await;
    let admin_api_token = app.token_for("admin").await;
    let almost = format!("{}x", &METRICS_TOKEN[..METRICS_TOKEN.len() - 1]);
    for token in [None, Some(""), Some("wrong"), Some(almost.as_str()), Some(admin_api_token.as_str())] {
        let page = scrape(&app, token).await;
        assert_eq!(page.status, 401, "{token:?}");
        assert_eq!(page.header("www-authenticate"), "Bearer", "{token:?}");
        assert_eq!(page.json()["error"]["code"], "unauthorized");
        assert!(!page.body.contains("connections_"), "{}", page.body);
    }
    // A signed-in SDAdmin's browser session is no metrics token either.
    let browser = app.admin().await;
    assert_eq!(browser.get("/metrics").await.status, 401);
    assert_eq!(scrape(&app, Some(METRICS_TOKEN)).await.status, 200);

    let without = TestApp::spawn().await;
    for token in [None, Some(METRICS_TOKEN)] {
        assert_eq!(scrape(&without, token).await.status, 404, "{token:?}");
    }
    let res =
        app.http().post(format!("{}/metrics", app.base)).bearer_auth(METRICS_TOKEN).json(&json!({})).send();
    assert_eq!(res.await.unwrap().status(), 405);
}

#[tokio::test]
async fn the_pool_gauges_show_every_write_connection_in_use_and_a_request_waiting_for_one() {
    let app = TestApp::spawn_with(|c| {
        with_token(c);
        c.workers = 1; // four write connections
    })
    .await;
    let gate = Arc::new(Barrier::new(5));
    let mut holders = Vec::new();
    for _ in 0..4 {
        let (db, gate) = (app.state.db.clone(), gate.clone());
        holders.push(tokio::spawn(async move { db.run(move |_| Ok(gate.wait())).await }));
    }
    let db = app.state.db.clone();
    let waiter = tokio::spawn(async move { db.run(|_| Ok(())).await });
    let gauges = async || {
        let (m, _) = metrics(&app).await;
        let in_use = m.value("connections_db_pool_connections", &[("pool", "write"), ("state", "in_use")]);
        (in_use.unwrap(), m.value("connections_db_pool_waiting", &[]).unwrap())
    };
    eventually("four connections in use and one request waiting", async || gauges().await == (4.0, 1.0))
        .await;

    tokio::task::spawn_blocking(move || gate.wait()).await.unwrap();
    for holder in holders {
        holder.await.unwrap().unwrap();
    }
    waiter.await.unwrap().unwrap();
    assert_eq!(gauges().await.1, 0.0, "nobody waits any more");
}
