//! Two app instances on one database, as behind a load balancer: what one of them has read (and keeps
//! in memory, see `src/cache.rs`) follows every change made on the other one or in
//! the database itself — a connection's revoke or new credentials, its service's new API base URL, a
//! service's new name in the connection lists.

use serde_json::json;

use crate::support::{
    Api, TestApp, Upstream, api_key_service, canary, connection, invoke, spawn_app, text_of,
    within_two_seconds,
};

/// Two instances sharing a database, the admin's API client on each, and `desk`, an API Key
/// connection to a service under the upstream's `/api`, connected with a key and invoked once through
/// the second instance (which now holds it). Returns the key.
struct Pair {
    one: TestApp,
    two: TestApp,
    api_one: Api,
    api_two: Api,
    up: Upstream,
}

async fn pair() -> (Pair, String) {
    let one = spawn_app().await;
    let two = TestApp::spawn_on(one.shared_db(), |config| {
        config.outbound_allow_cidrs = one.state.config.outbound_allow_cidrs.clone();
        config.outbound_allow_http = true;
    })
    .await;
    let (api_one, api_two, up) = (Api::admin(&one).await, Api::admin(&two).await, Upstream::start().await);
    let mut service = api_key_service("desk");
    service["api_base_url"] = format!("{}/api", up.url).into();
    api_one.create("/api/v1/services", &service).await;
    api_one.create("/api/v1/connections", &connection("desk", "desk", &[])).await;
    let key = canary("key");
    store_key(&api_one, &key).await;
    let pair = Pair { one, two, api_one, api_two, up };
    assert_eq!(pair.invoke_two().await, (200, Some("/api/items".to_owned()), Some(key.clone())));
    (pair, key)
}

async fn store_key(api: &Api, key: &str) {
    let res = api
        .put("/api/v1/connections/desk/credentials", &json!({"params": {"X-Api-Key": key, "X-Org-Id": "7"}}))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

impl Pair {
    /// Invokes `desk` through the second instance: the answer's status, and the path and key the
    /// upstream received when this invoke reached it.
    async fn invoke_two(&self) -> (u16, Option<String>, Option<String>) {
        let before = self.up.count();
        let res = invoke(&self.api_two, "desk", json!({"method": "GET", "path": "/items"})).await;
        let received = self.up.received();
        let reached = (received.len() > before).then(|| received.last().cloned()).flatten();
        (res.status, reached.as_ref().map(|r| r.path.clone()), reached.map(|r| r.header("x-api-key")))
    }
}

#[tokio::test]
async fn a_connection_revoked_on_one_instance_is_refused_by_the_other() {
    let (p, _) = pair().await;
    let res = p.api_one.post("/api/v1/connections/desk/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let refused = async || p.invoke_two().await == (409, None, None);
    assert!(within_two_seconds(refused).await, "a revoke on one instance stops invokes on the other");
    let calls = p.up.count();
    assert_eq!(p.invoke_two().await.0, 409);
    assert_eq!(p.up.count(), calls, "no request once it is refused");
    // The instance that revoked refuses at once.
    assert_eq!(invoke(&p.api_one, "desk", json!({"path": "/items"})).await.status, 409);

    // Deleted on one: gone on the other.
    store_key(&p.api_one, &canary("key")).await;
    assert!(within_two_seconds(async || p.invoke_two().await.0 == 200).await, "connected again");
    assert_eq!(p.api_one.delete("/api/v1/connections/desk").await.status, 200);
    assert!(
        within_two_seconds(async || p.invoke_two().await.0 == 404).await,
        "a deleted connection is not found"
    );
}

#[tokio::test]
async fn new_credentials_and_a_changed_service_reach_the_other_instance() {
    let (p, old_key) = pair().await;
    let new_key = canary("key");
    store_key(&p.api_one, &new_key).await;
    let uses_new_key = async || p.invoke_two().await.2.as_deref() == Some(new_key.as_str());
    assert!(within_two_seconds(uses_new_key).await, "the other instance sends the new key");
    assert!(p.up.received().last().is_some_and(|r| r.header("x-api-key") != old_key));

    let res =
        p.api_one.patch("/api/v1/services/desk", &json!({"api_base_url": format!("{}/v2", p.up.url)})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let moved = async || p.invoke_two().await.1.as_deref() == Some("/v2/items");
    assert!(within_two_seconds(moved).await, "the other instance follows the service's new API base URL");
}

#[tokio::test]
async fn a_change_made_in_the_database_itself_reaches_an_instance_that_invoked_the_connection() {
    let (p, _) = pair().await;
    // As another tool would, without going through either instance.
    let sql = "UPDATE connections SET status = 'needs_reconnect', \
               status_message = 'Rejected by the provider.' WHERE link_name = 'desk'";
    p.one.state.db.run(move |c| Ok(diesel::RunQueryDsl::execute(diesel::sql_query(sql), c)?)).await.unwrap();
    let refused = async || {
        let res = invoke(&p.api_two, "desk", json!({"path": "/items"})).await;
        res.status == 409 && res.json()["error"]["status"] == "needs_reconnect"
    };
    assert!(within_two_seconds(refused).await, "the other instance reads the new status");
}

#[tokio::test]
async fn a_service_renamed_on_one_instance_is_shown_renamed_in_the_others_lists() {
    let (p, _) = pair().await;
    let admin_two = p.two.admin().await;
    let shown = async |name: &str| {
        let row = text_of(&admin_two.get("/admin/connections").await);
        row.contains(&format!("{name} API Key"))
    };
    assert!(shown("Service desk").await, "the second instance has read the service's name");
    let res = p.api_one.patch("/api/v1/services/desk", &json!({"name": "Service Desk EU"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        within_two_seconds(async || shown("Service Desk EU").await).await,
        "the other instance shows the new name"
    );
    // On the instance that renamed it: at once.
    let res = p.api_two.patch("/api/v1/services/desk", &json!({"name": "Service Desk US"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(shown("Service Desk US").await);
}

/// The link names the second instance's search for `needle` lists, in order.
async fn search_two(api: &Api, needle: &str) -> Vec<String> {
    let res = api.get(&format!("/api/v1/connections?search={needle}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["link_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn connections_added_renamed_or_deleted_anywhere_are_searched_at_once_by_the_other_instance() {
    let one = spawn_app().await;
    let two = TestApp::spawn_on(one.shared_db(), |_| {}).await;
    let (api_one, api_two) = (Api::admin(&one).await, Api::admin(&two).await);
    api_one.create("/api/v1/services", &api_key_service("desk")).await;
    api_one
        .create("/api/v1/connections", &json!({"service": "desk", "name": "Zoho Desk", "link_name": "first"}))
        .await;
    // The second instance's name index now holds one connection.
    assert_eq!(search_two(&api_two, "zoho").await, ["first"]);

    api_one
        .create(
            "/api/v1/connections",
            &json!({"service": "desk", "name": "Zoho Books", "link_name": "second"}),
        )
        .await;
    assert_eq!(search_two(&api_two, "zoho").await, ["second", "first"], "added on the other instance");
    assert_eq!(search_two(&api_two, "zoho&sort=-name").await, ["first", "second"]);

    let res = api_one.patch("/api/v1/connections/first", &json!({"name": "Acme Desk"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(search_two(&api_two, "zoho").await, ["second"], "renamed on the other instance");
    assert_eq!(search_two(&api_two, "acme").await, ["first"]);

    assert_eq!(api_one.delete("/api/v1/connections/second").await.status, 200);
    assert_eq!(search_two(&api_two, "zoho").await, Vec::<String>::new(), "deleted on the other instance");

    // As another tool would, without going through either instance.
    let sql =
        "UPDATE connections SET name = 'Zoho Direct', name_lower = 'zoho direct' WHERE link_name = 'first'";
    one.state.db.run(move |c| Ok(diesel::RunQueryDsl::execute(diesel::sql_query(sql), c)?)).await.unwrap();
    assert_eq!(search_two(&api_two, "zoho").await, ["first"], "renamed in the database itself");
    assert_eq!(search_two(&api_two, "ZOHO%20DIRECT").await, ["first"]);
}

/// What the second instance's list of `owner` (`me` or `any`) shows: how many connections, and
/// the owner of each row.
async fn listed_two(api: &Api, owner: &str) -> (i64, Vec<String>) {
    let res = api.get(&format!("/api/v1/connections?owner={owner}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    let owners = body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["owner"].as_str().unwrap().to_owned())
        .collect();
    (body["total"].as_i64().unwrap(), owners)
}

#[tokio::test]
async fn the_counts_and_owners_the_lists_show_follow_changes_made_on_the_other_instance_or_in_the_database() {
    let one = spawn_app().await;
    let two = TestApp::spawn_on(one.shared_db(), |_| {}).await;
    let (api_one, api_two) = (Api::admin(&one).await, Api::admin(&two).await);
    let sql = async |sql: &'static str| {
        one.state.db.run(move |c| Ok(diesel::RunQueryDsl::execute(diesel::sql_query(sql), c)?)).await.unwrap()
    };
    // The second instance's lists (everyone's and the admin's) have read their counts and owners.
    let no_services = two.admin().await.get("/admin/connections").await;
    assert!(text_of(&no_services).contains("Start by registering the application"), "{}", no_services.body);
    assert_eq!(listed_two(&api_two, "any").await.0, 0);
    let admin_two = two.admin().await;
    assert_eq!(admin_two.get("/admin/services").await.status, 200);
    api_one.create("/api/v1/services", &api_key_service("desk")).await;
    let has_services =
        async || text_of(&admin_two.get("/admin/connections").await).contains("Create one, then connect it");
    assert!(within_two_seconds(has_services).await, "a service added on the other instance is counted");
    let services_counted = async || text_of(&admin_two.get("/admin/services").await).contains("1–1 of 1");
    assert!(within_two_seconds(services_counted).await, "in the Custom Services list too");
    api_one.create("/api/v1/connections", &connection("desk", "first", &[])).await;
    assert!(
        within_two_seconds(async || listed_two(&api_two, "me").await == (1, vec!["admin".to_owned()])).await,
        "counted, once heard of"
    );
    assert_eq!(listed_two(&api_two, "any").await.0, 1);

    api_one.create("/api/v1/connections", &connection("desk", "second", &[])).await;
    assert!(
        within_two_seconds(async || listed_two(&api_two, "any").await.0 == 2).await,
        "added on the other instance"
    );
    assert!(within_two_seconds(async || listed_two(&api_two, "me").await.0 == 2).await);
    assert_eq!(api_one.delete("/api/v1/connections/first").await.status, 200);
    assert!(
        within_two_seconds(async || listed_two(&api_two, "me").await.0 == 1).await,
        "deleted on the other instance"
    );

    // As another tool would, without going through either instance.
    sql("UPDATE users SET username = 'chief' WHERE username = 'admin'").await;
    let renamed = async || listed_two(&api_two, "any").await == (1, vec!["chief".to_owned()]);
    assert!(within_two_seconds(renamed).await, "an owner renamed in the database itself");
    sql("DELETE FROM connections WHERE link_name = 'second'").await;
    assert!(
        within_two_seconds(async || listed_two(&api_two, "any").await.0 == 0).await,
        "deleted in the database itself"
    );

    // On the instance that made the change: at once.
    assert_eq!(listed_two(&api_two, "me").await.0, 0);
    api_two.create("/api/v1/connections", &connection("desk", "third", &[])).await;
    assert_eq!(listed_two(&api_two, "me").await, (1, vec!["chief".to_owned()]));
}
