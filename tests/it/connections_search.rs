//! The connection list's search picks its page in two ways: up to `COUNT_CAP` matches are sorted by
//! the app, more are paged by the database. Both must give exactly the order and pages the database
//! gives an unsearched list, for every sort, with mixed case, accents, digits, equal names and equal
//! update times.

use connections::lists::COUNT_CAP;
use connections::models::connection as model;
use connections::models::service as services;
use serde_json::{Value, json};

use crate::support::{Api, TestApp, api_key_service, row, spawn_app};

const SORTS: [&str; 4] = ["name", "-name", "updated", "-updated"];

/// Names that sort differently by bytes, by case and by accent; some equal, so ids break the tie.
fn name(i: usize, word: &str) -> String {
    let stems = ["Zeta", "alpha", "Alpha", "Ärger", "über", "10 ", "9 ", "_x", "émile", "Émile"];
    format!("{} {word} {}", stems[i % stems.len()], i % 7)
}

/// Adds `n` connections to `service` straight into the database (the API would take minutes for a
/// thousand), with update times that repeat, so the updated sorts need their id tie-break.
async fn seed(app: &TestApp, service: &str, owner_id: i64, word: &'static str, n: usize) {
    let service = service.to_owned();
    app.state
        .db
        .run(move |c| {
            let service_id = services::find(c, &service)?.expect("the service exists").id;
            for i in 0..n {
                let link = format!("{word}_{i}");
                let name = name(i, word);
                let new = model::NewConnection {
                    link_name: &link,
                    name: &name,
                    service_id,
                    owner_id,
                    scopes: &[],
                    variables: &Default::default(),
                };
                model::insert(c, &new, 1_000 + (i as i64 % 13))?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn links(body: &Value) -> Vec<String> {
    body["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("no list: {body}"))
        .iter()
        .map(|c| c["link_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_pages_match_the_database_order_below_and_above_the_count_cap() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("rare_svc")).await;
    api.create("/api/v1/services", &api_key_service("common_svc")).await;
    api.create(
        "/api/v1/connections",
        &json!({"service": "rare_svc", "name": "A rare first", "link_name": "first_rare"}),
    )
    .await;
    let owner_id = row(&app, "first_rare").await.owner_id;
    seed(&app, "rare_svc", owner_id, "rare", 60).await;
    seed(&app, "common_svc", owner_id, "common", COUNT_CAP as usize + 5).await;

    for sort in SORTS {
        // 61 matches: sorted by the app. The service filter lists the same 61 in the database's order.
        let mut searched = Vec::new();
        for page in 1..=3 {
            let by_search =
                api.get(&format!("/api/v1/connections?search=RARE&sort={sort}&page={page}")).await.json();
            let by_service = api
                .get(&format!("/api/v1/connections?service=rare_svc&sort={sort}&page={page}"))
                .await
                .json();
            assert_eq!(links(&by_search), links(&by_service), "sort {sort}, page {page}");
            assert_eq!(
                (by_search["total"].as_i64(), by_search["total_at_least"].as_bool()),
                (Some(61), Some(false))
            );
            searched.extend(links(&by_search));
        }
        assert_eq!(searched.len(), 61, "every match once, sort {sort}");
        let past = api.get(&format!("/api/v1/connections?search=rare&sort={sort}&page=4")).await.json();
        assert!(links(&past).is_empty(), "a page past the end is empty: {past}");

        // More than the cap: paged by the database, counted as "1,000+".
        let by_search = api
            .get(&format!("/api/v1/connections?search=common&sort={sort}&per_page=100&page=2"))
            .await
            .json();
        let by_service = api
            .get(&format!("/api/v1/connections?service=common_svc&sort={sort}&per_page=100&page=2"))
            .await
            .json();
        assert_eq!(links(&by_search), links(&by_service), "sort {sort}");
        assert_eq!(
            (by_search["total"].as_i64(), by_search["total_at_least"].as_bool()),
            (Some(COUNT_CAP), Some(true))
        );
        // With another filter the name index never answers: the database's matches, past the cap,
        // give the same pages.
        for page in [1, 11] {
            let filtered = api
                .get(&format!("/api/v1/connections?search=common&status=not_connected&sort={sort}&per_page=100&page={page}"))
                .await
                .json();
            let by_service = api
                .get(&format!("/api/v1/connections?service=common_svc&sort={sort}&per_page=100&page={page}"))
                .await
                .json();
            assert_eq!(links(&filtered), links(&by_service), "sort {sort}, page {page}");
            assert_eq!(links(&filtered).len(), if page == 1 { 100 } else { 5 });
            assert_eq!(filtered["total_at_least"].as_bool(), Some(true));
        }
    }

    // Without filters the total comes from the counters, with the page or (past the end) alone.
    let all = 1 + 60 + COUNT_CAP + 5;
    for path in
        ["/api/v1/connections", "/api/v1/connections?page=9999", "/api/v1/connections?owner=any&page=9999"]
    {
        let body = api.get(path).await.json();
        assert_eq!(
            (body["total"].as_i64(), body["total_at_least"].as_bool()),
            (Some(all), Some(false)),
            "{path}"
        );
    }

    // Two characters (no trigram to look up; `_` is not a wildcard) and an accented needle too.
    let short = api.get("/api/v1/connections?search=_x&sort=name&per_page=100").await.json();
    let expected = (0..60).chain(0..COUNT_CAP as usize + 5).filter(|i| i % 10 == 7).count();
    assert_eq!(short["total"], expected, "{short}");
    let accented = api.get("/api/v1/connections?search=%C3%A4rger%20rare&per_page=100").await.json();
    assert_eq!(accented["total"], 6, "{accented}");
    // The page shows the same rows.
    let page = app.admin().await.get("/admin/connections?q=rare&sort=-name").await;
    assert_eq!(page.status, 200);
    let first = &links(&api.get("/api/v1/connections?search=rare&sort=-name").await.json())[0];
    assert!(page.body.contains(&format!("data-link-name=\"{first}\"")), "the page's first row is {first}");
}

#[tokio::test]
async fn a_services_connections_are_counted_exactly_past_the_cap_by_its_counter() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("busy_svc")).await;
    api.create("/api/v1/services", &api_key_service("quiet_svc")).await;
    api.create(
        "/api/v1/connections",
        &json!({"service": "quiet_svc", "name": "Quiet one", "link_name": "quiet_one"}),
    )
    .await;
    let owner_id = row(&app, "quiet_one").await.owner_id;
    seed(&app, "busy_svc", owner_id, "busy", COUNT_CAP as usize + 7).await;
    let busy = COUNT_CAP + 7;

    // Everyone's connections of one service: the service's counter, exact at any size, with the page
    // or (past the end) alone; an unknown service has none.
    for (path, total) in [
        ("/api/v1/connections?owner=any&service=busy_svc", busy),
        ("/api/v1/connections?owner=any&service=busy_svc&page=9999", busy),
        ("/api/v1/connections?owner=any&service=quiet_svc", 1),
        ("/api/v1/connections?owner=any&service=no_such_svc", 0),
    ] {
        let body = api.get(path).await.json();
        assert_eq!(
            (body["total"].as_i64(), body["total_at_least"].as_bool()),
            (Some(total), Some(false)),
            "{path}"
        );
    }
    // One owner's connections of the service, or another filter with it, are counted up to the cap.
    for path in [
        "/api/v1/connections?service=busy_svc",
        "/api/v1/connections?owner=any&service=busy_svc&status=not_connected",
    ] {
        let body = api.get(path).await.json();
        assert_eq!(
            (body["total"].as_i64(), body["total_at_least"].as_bool()),
            (Some(COUNT_CAP), Some(true)),
            "{path}"
        );
    }
    // The service's page lists its first 100 and links to all of them, counted.
    let admin = app.admin().await;
    let page = admin.get("/admin/services/busy_svc").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("All {busy} in All Connections")), "{}", page.body);
    let list = admin.get("/admin/connections?owner=any&service=busy_svc").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&format!("of {busy}<")), "the list's total");
}
