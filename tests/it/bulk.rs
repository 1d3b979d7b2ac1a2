//! Bulk actions: revoke, delete and transfer many connections (picked rows, the whole page, or all
//! matching the list's filter), delete or export many services, and the emergency revoke of every
//! connection of a service. Each item goes through the one-item operation: a provider that refuses a
//! revoke still leaves the connection revoked here, and the outcome says so item by item.

use serde_json::{Value, json};

use crate::support::{
    Api, Browser, FakeProvider, Page, TestApp, api_key_service, audit, basic_service, connect_oauth,
    connection, insert_connection, oauth_service_at, row, second_admin, spawn_app, text_of, try_row,
};

/// Three OAuth2 connections, connected: `desk_a` and `desk_b` at a provider that revokes, `crm_c` at
/// one whose revoke endpoint fails.
struct Three {
    app: TestApp,
    api: Api,
    browser: Browser,
    good: FakeProvider,
    bad: FakeProvider,
}

async fn three() -> Three {
    let app = spawn_app().await;
    let (good, bad) = (FakeProvider::start().await, FakeProvider::start().await);
    bad.set(|b| b.revoke_status = 503);
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &oauth_service_at(&good, "desk")).await;
    api.create("/api/v1/services", &oauth_service_at(&bad, "crm")).await;
    let browser = app.admin().await;
    for (service, link) in [("desk", "desk_a"), ("desk", "desk_b"), ("crm", "crm_c")] {
        api.create("/api/v1/connections", &connection(service, link, &["read", "offline_access"])).await;
        connect_oauth(&browser, link).await;
    }
    Three { app, api, browser, good, bad }
}

fn results(outcome: &Value) -> Vec<(String, String)> {
    outcome["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["link_name"].as_str().unwrap().to_owned(), i["result"].as_str().unwrap().to_owned()))
        .collect()
}

async fn revoked_here(app: &TestApp, link: &str) -> bool {
    let r = row(app, link).await;
    r.status().as_str() == "disconnected" && r.access_token.is_none() && r.refresh_token.is_none()
}

#[tokio::test]
async fn a_bulk_revoke_revokes_every_connection_here_even_when_a_provider_fails_and_says_which() {
    let t = three().await;
    let body = json!({ "action": "revoke", "links": ["desk_a", "crm_c", "desk_b", "no_such", "desk_a"] });
    let res = t.api.post("/api/v1/connections/bulk", &body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let outcome = res.json();
    assert_eq!(
        results(&outcome),
        [("desk_a", "done"), ("crm_c", "provider_failed"), ("desk_b", "done"), ("no_such", "failed")]
            .map(|(l, r)| (l.to_owned(), r.to_owned()))
    );
    assert_eq!(
        (&outcome["total"], &outcome["done"], &outcome["provider_failed"], &outcome["failed"]),
        (&json!(4), &json!(2), &json!(1), &json!(1))
    );
    let failing = &outcome["items"][1];
    assert_eq!(failing["name"], "Connection crm_c");
    assert!(failing["message"].as_str().unwrap().contains("HTTP 503"), "{failing}");
    assert_eq!(outcome["items"][3]["message"], "Nothing has this link name (any more).");
    for link in ["desk_a", "desk_b", "crm_c"] {
        assert!(revoked_here(&t.app, link).await, "{link} is revoked locally");
    }
    assert_eq!(t.good.revoke_calls().len(), 4, "refresh and access token of each");
    assert_eq!(t.bad.revoke_calls().len(), 2, "both tokens were tried");
    assert_eq!(audit(&t.app, "connection.revoke").await.len(), 3, "one entry per connection");
}

/// The fields of the list's bulk form, as a browser sends them.
async fn bulk_form(browser: &Browser, from: &str, to: &str, fields: &[(&str, &str)]) -> Page {
    let token = browser.get(from).await.csrf();
    let mut sent = vec![("csrf_token", token.as_str())];
    sent.extend_from_slice(fields);
    browser.post(to, &sent).await
}

/// The hidden link names a confirmation carries.
fn carried(page: &Page) -> Vec<String> {
    page.body
        .match_indices("<input type=\"hidden\" name=\"link\" value=\"")
        .map(|(i, m)| page.body[i + m.len()..].split('"').next().unwrap().to_owned())
        .collect()
}

/// Submits a confirmation page's form as it is.
async fn confirm(browser: &Browser, page: &Page, path: &str, extra: &[(&str, &str)]) -> Page {
    let (token, links, action) = (page.csrf(), carried(page), hidden(page, "action"));
    let mut fields = vec![("csrf_token", token.as_str()), ("action", action.as_str())];
    fields.extend(links.iter().map(|l| ("link", l.as_str())));
    fields.extend_from_slice(extra);
    browser.post(path, &fields).await
}

fn hidden(page: &Page, name: &str) -> String {
    let marker = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let at = page.body.find(&marker).unwrap_or_else(|| panic!("no {name} in {}", page.body)) + marker.len();
    page.body[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_list_picks_rows_confirms_exactly_them_and_shows_each_outcome() {
    let t = three().await;
    let list = t.browser.get("/admin/connections?owner=any").await;
    assert!(list.body.contains("id=\"bulk-connections\""), "the bulk form");
    assert!(list.body.contains("name=\"link\" value=\"crm_c\" form=\"bulk-connections\""), "a box per row");
    assert!(list.body.contains("data-select-all"), "a box for the page");
    assert!(text_of(&list).contains("all 3 in this list"), "{}", text_of(&list));

    let fields = [("owner", "any"), ("link", "desk_a"), ("link", "crm_c"), ("action", "revoke")];
    let page =
        bulk_form(&t.browser, "/admin/connections?owner=any", "/admin/connections/bulk", &fields).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let said = text_of(&page);
    assert!(said.contains("Revoke 2 connections?"), "{said}");
    assert!(said.contains("Connection desk_a") && said.contains("Connection crm_c"));
    assert!(!said.contains("Connection desk_b"));
    assert_eq!(carried(&page), ["desk_a", "crm_c"]);
    assert!(row(&t.app, "desk_a").await.access_token.is_some(), "nothing happens before the confirmation");

    let outcome = confirm(&t.browser, &page, "/admin/connections/bulk/run", &[]).await;
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert!(outcome.body.contains("data-link-name=\"desk_a\" data-result=\"done\""), "{}", outcome.body);
    assert!(outcome.body.contains("data-link-name=\"crm_c\" data-result=\"provider_failed\""));
    let said = text_of(&outcome);
    assert!(said.contains("1 done") && said.contains("1 revoked here, the provider failed"), "{said}");
    assert!(said.contains("HTTP 503"), "why: {said}");
    assert!(revoked_here(&t.app, "crm_c").await && revoked_here(&t.app, "desk_a").await);
    assert!(!revoked_here(&t.app, "desk_b").await, "not picked");

    // Nothing picked: the confirmation says so, and nothing happens.
    let page =
        bulk_form(&t.browser, "/admin/connections", "/admin/connections/bulk", &[("action", "delete")]).await;
    assert_eq!(page.status, 422);
    assert!(text_of(&page).contains("Nothing is selected"));
}

#[tokio::test]
async fn a_bulk_delete_of_the_whole_page_deletes_those_rows_only() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    for i in 0..4 {
        api.create("/api/v1/connections", &connection("desk", &format!("conn_{i}"), &[])).await;
    }
    let browser = app.admin().await;
    // “Select all on this page” sends the page's rows; boxes ticked or not, those are the ones.
    let fields = [("scope", "page"), ("page_link", "conn_0"), ("page_link", "conn_1"), ("action", "delete")];
    let page = bulk_form(&browser, "/admin/connections", "/admin/connections/bulk", &fields).await;
    assert!(text_of(&page).contains("Delete 2 connections?"), "{}", text_of(&page));
    let outcome = confirm(&browser, &page, "/admin/connections/bulk/run", &[]).await;
    assert!(text_of(&outcome).contains("2 done"), "{}", text_of(&outcome));
    assert!(try_row(&app, "conn_0").await.is_none() && try_row(&app, "conn_1").await.is_none());
    assert!(try_row(&app, "conn_2").await.is_some() && try_row(&app, "conn_3").await.is_some());
    assert_eq!(audit(&app, "connection.delete").await.len(), 2);

    // The API's delete by link names.
    let res = api.post("/api/v1/connections/bulk", &json!({ "action": "delete", "links": ["conn_2"] })).await;
    assert_eq!(results(&res.json()), [("conn_2".to_owned(), "done".to_owned())]);
    assert!(try_row(&app, "conn_2").await.is_none());
}

#[tokio::test]
async fn all_matching_the_filter_acts_on_every_match_and_a_confirmation_names_at_most_fifty() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/services", &basic_service("jira")).await;
    for i in 0..60 {
        insert_connection(&app, "desk", &format!("desk_{i:02}"), &format!("Desk {i:02}")).await;
    }
    for i in 0..3 {
        insert_connection(&app, "jira", &format!("jira_{i}"), &format!("Jira {i}")).await;
    }
    let browser = app.admin().await;
    let list = browser.get("/admin/connections?owner=any&q=desk").await;
    assert!(text_of(&list).contains("all 60 matching this filter"), "{}", text_of(&list));
    let fields =
        [("owner", "any"), ("q", "desk"), ("scope", "filter"), ("link", "jira_0"), ("action", "revoke")];
    let page = bulk_form(&browser, "/admin/connections", "/admin/connections/bulk", &fields).await;
    let said = text_of(&page);
    assert!(said.contains("Revoke 60 connections?") && said.contains("60 items"), "{said}");
    assert!(said.contains("… and 10 more."), "the list is capped: {said}");
    assert!(said.contains("Desk 49") && !said.contains("Desk 50 "), "the first fifty by name");
    assert_eq!(carried(&page).len(), 60, "the form carries every one");
    let outcome = confirm(&browser, &page, "/admin/connections/bulk/run", &[]).await;
    assert!(text_of(&outcome).contains("60 done"), "{}", text_of(&outcome));
    assert_eq!(row(&app, "desk_59").await.status().as_str(), "disconnected");
    assert_eq!(row(&app, "jira_0").await.status().as_str(), "not_connected", "not matching, not touched");

    // A service's page lists its connections with the same form: "all" means all of the service's.
    let service_page = browser.get("/admin/services/jira").await;
    assert!(text_of(&service_page).contains("all 3 of this service"), "{}", text_of(&service_page));
    let fields = [("service", "jira"), ("owner", "any"), ("scope", "filter"), ("action", "revoke")];
    let page = bulk_form(&browser, "/admin/services/jira", "/admin/connections/bulk", &fields).await;
    assert_eq!(carried(&page), ["jira_0", "jira_1", "jira_2"], "{}", text_of(&page));

    // The API's filter: the same filters as the list; a misspelt one is refused, not ignored.
    let res = api
        .post("/api/v1/connections/bulk", &json!({ "action": "delete", "filter": { "servce": "jira" } }))
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let res = api
        .post(
            "/api/v1/connections/bulk",
            &json!({ "action": "delete", "filter": { "service": "jira", "owner": "nobody" } }),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["filter.owner"].is_array(), "{}", res.body);
    assert_eq!(api.get("/api/v1/connections?owner=any").await.json()["total"], 63, "nothing was deleted");
    let filter = json!({ "action": "delete", "filter": { "service": "jira", "owner": "any" } });
    let res = api.post("/api/v1/connections/bulk", &filter).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(results(&res.json()).len(), 3);
    assert_eq!(api.get("/api/v1/connections?owner=any").await.json()["total"], 60);
    // `owner` is `me` unless it says `any`: another SDAdmin's filter matches none of the admin's.
    second_admin(&app, "bob").await;
    let bob = Api::for_user(&app, "bob").await;
    let res = bob.post("/api/v1/connections/bulk", &json!({ "action": "delete", "filter": {} })).await;
    assert_eq!(res.json()["total"], 0);
    for bad in [
        json!({ "action": "revoke" }),
        json!({ "action": "revoke", "links": [] }),
        json!({ "action": "revoke", "links": ["a"], "filter": {} }),
        json!({ "action": "explode", "links": ["a"] }),
        json!({ "action": "revoke", "links": ["a"], "to": "bob" }),
    ] {
        assert_eq!(api.post("/api/v1/connections/bulk", &bad).await.status, 422, "{bad}");
    }
}

#[tokio::test]
async fn a_bulk_transfer_checks_the_new_owner_first_then_moves_each_connection() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service("desk")).await;
    for link in ["one", "two"] {
        api.create("/api/v1/connections", &connection("desk", link, &[])).await;
    }
    app.add_user("tech", connections::models::user::Role::Technician, "tech-password-12").await;
    let res = api
        .post("/api/v1/connections/bulk", &json!({ "action": "transfer", "links": ["one"], "to": "tech" }))
        .await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["to"][0].as_str().unwrap().contains("not an SDAdmin"));
    let bob = second_admin(&app, "bob").await;
    let body = json!({ "action": "transfer", "links": ["one", "two"], "to": "bob" });
    let res = api.post("/api/v1/connections/bulk", &body).await;
    assert_eq!(
        results(&res.json()),
        [("one", "done"), ("two", "done")].map(|(l, r)| (l.to_owned(), r.to_owned()))
    );
    assert_eq!(res.json()["items"][0]["message"], "Now owned by bob.");
    assert!(text_of(&bob.get("/admin/connections").await).contains("1–2 of 2"));

    // The page: the confirmation asks for the new owner.
    let browser = app.admin().await;
    let fields = [("owner", "any"), ("link", "one"), ("action", "transfer")];
    let page = bulk_form(&browser, "/admin/connections", "/admin/connections/bulk", &fields).await;
    assert!(page.body.contains("<option value=\"admin\">admin</option>"), "{}", page.body);
    let refused = confirm(&browser, &page, "/admin/connections/bulk/run", &[("to", "tech")]).await;
    assert_eq!(refused.status, 422);
    assert!(text_of(&refused).contains("tech is not an SDAdmin"), "{}", text_of(&refused));
    let outcome = confirm(&browser, &page, "/admin/connections/bulk/run", &[("to", "admin")]).await;
    assert!(text_of(&outcome).contains("Now owned by admin."), "{}", text_of(&outcome));
}

#[tokio::test]
async fn the_emergency_revoke_revokes_every_connection_of_a_service_after_a_confirmation_with_the_count() {
    let t = three().await;
    let details = t.browser.get("/admin/services/desk").await;
    assert!(details.body.contains("/admin/services/desk/revoke-all"), "the action is offered");
    let page = t.browser.get("/admin/services/desk/revoke-all").await;
    assert_eq!(page.status, 200);
    let said = text_of(&page);
    assert!(said.contains("Revoke every connection of “Service desk”: 2 connections?"), "{said}");
    assert!(
        said.contains("Connection desk_a") && said.contains("Connection desk_b") && !said.contains("crm_c")
    );
    assert!(row(&t.app, "desk_a").await.access_token.is_some(), "nothing before the confirmation");
    let token = page.csrf();
    let outcome = t.browser.post("/admin/services/desk/revoke-all", &[("csrf_token", &token)]).await;
    assert_eq!(outcome.status, 200, "{}", outcome.body);
    assert!(text_of(&outcome).contains("2 done"), "{}", text_of(&outcome));
    assert!(revoked_here(&t.app, "desk_a").await && revoked_here(&t.app, "desk_b").await);
    assert!(!revoked_here(&t.app, "crm_c").await, "another service's connection");

    // The API, at a provider that fails: revoked here all the same.
    let res = t.api.post("/api/v1/services/crm/revoke-all", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(results(&res.json()), [("crm_c".to_owned(), "provider_failed".to_owned())]);
    assert!(revoked_here(&t.app, "crm_c").await);
    assert_eq!(t.api.post("/api/v1/services/nope/revoke-all", &json!({})).await.status, 404);
    let entries = audit(&t.app, "service.revoke_all").await;
    assert_eq!(entries.len(), 2);
    assert!(entries[1].details.contains("\"provider_failed\":1"), "{}", entries[1].details);
}

#[tokio::test]
async fn a_bulk_delete_of_services_keeps_one_in_use_and_says_why_and_an_export_of_the_picked_downloads() {
    let app = spawn_app().await;
    let api = Api::admin(&app).await;
    for link in ["alpha", "beta", "gamma"] {
        api.create("/api/v1/services", &api_key_service(link)).await;
    }
    api.create("/api/v1/connections", &connection("beta", "uses_beta", &[])).await;
    let browser = app.admin().await;
    let list = browser.get("/admin/services").await;
    assert!(list.body.contains("name=\"link\" value=\"beta\" form=\"bulk-services\""));

    let fields = [("link", "alpha"), ("link", "beta"), ("action", "export")];
    let export = bulk_form(&browser, "/admin/services", "/admin/services/bulk", &fields).await;
    assert_eq!(export.status, 200);
    assert!(export.header("content-disposition").starts_with("attachment"));
    let file = export.json();
    let links: Vec<&str> =
        file["services"].as_array().unwrap().iter().map(|s| s["link_name"].as_str().unwrap()).collect();
    assert_eq!(links, ["alpha", "beta"]);

    let fields = [("link", "alpha"), ("link", "beta"), ("action", "delete")];
    let page = bulk_form(&browser, "/admin/services", "/admin/services/bulk", &fields).await;
    let said = text_of(&page);
    assert!(said.contains("Delete 2 services?") && said.contains("used by 1 connection: it stays"), "{said}");
    let outcome = confirm(&browser, &page, "/admin/services/bulk/run", &[]).await;
    assert!(outcome.body.contains("data-link-name=\"alpha\" data-result=\"done\""), "{}", outcome.body);
    assert!(outcome.body.contains("data-link-name=\"beta\" data-result=\"failed\""));
    assert!(
        text_of(&outcome).contains("cannot be deleted while connections use it"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(api.get("/api/v1/services/alpha").await.status, 404);
    assert_eq!(api.get("/api/v1/services/beta").await.status, 200);
    assert_eq!(api.get("/api/v1/services/gamma").await.status, 200);
}
