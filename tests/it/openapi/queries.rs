//! The list operations refuse a query value they cannot honour — an empty filter or sort, a service
//! filter that is no link name — with a 422 naming the parameter, as the document's enums and
//! patterns say, instead of answering as if it had not been sent.

use serde_json::Value;

use crate::support::{Api, TestApp};

/// The field errors of a GET that must be refused with a 422.
async fn refused_fields(api: &Api, path_and_query: &str) -> Value {
    let res = api.get(path_and_query).await;
    assert_eq!(res.status, 422, "{path_and_query}");
    res.json()["errors"].clone()
}

#[tokio::test]
async fn an_empty_filter_or_sort_is_refused_not_taken_for_the_default() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for (query, field) in [
        ("/api/v1/services?sort=", "sort"),
        ("/api/v1/services?auth_type=", "auth_type"),
        ("/api/v1/connections?sort=", "sort"),
        ("/api/v1/connections?status=", "status"),
        ("/api/v1/connections?auth_type=", "auth_type"),
        ("/api/v1/connections?owner=", "owner"),
        ("/api/v1/connections?service=", "service"),
    ] {
        let errors = refused_fields(&api, query).await;
        assert!(errors[field].is_array(), "{query}: {errors}");
    }
}

#[tokio::test]
async fn a_service_filter_that_is_no_link_name_is_refused() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for value in ["0.5", "Zoho", "zoho__desk", "%20zoho", "zoho_", &"a".repeat(51)] {
        let errors = refused_fields(&api, &format!("/api/v1/connections?service={value}")).await;
        assert!(errors["service"].is_array(), "{value}: {errors}");
    }
    // A well-formed link name of no service finds nothing.
    let res = api.get("/api/v1/connections?service=no_such_service").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["total"], 0);
}

#[tokio::test]
async fn a_search_with_a_control_character_is_refused() {
    // No name holds one, and a NUL byte would break the SQLite full-text query of the connections list.
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for list in ["/api/v1/services", "/api/v1/connections"] {
        for search in ["%C3%89t%C3%A9%00", "abc%01", "%0Aabc"] {
            let errors = refused_fields(&api, &format!("{list}?search={search}&owner=any")).await;
            assert!(errors["search"].is_array(), "{list} {search}: {errors}");
        }
    }
}

#[tokio::test]
async fn a_link_name_in_a_path_that_breaks_the_rules_is_a_404() {
    // A NUL byte, for one, would reach PostgreSQL and fail there.
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for path in ["/api/v1/connections/a%00b", "/api/v1/services/a%00b", "/api/v1/connections/Not%20One"] {
        assert_eq!(api.get(path).await.status, 404, "{path}");
    }
    let res = api.send(reqwest::Method::POST, "/api/v1/connections/a%00b/test", None).await;
    assert_eq!(res.status, 404);
}
