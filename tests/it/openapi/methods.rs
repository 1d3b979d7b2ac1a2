//! Every path of THE route table answers a method it does not serve with 405 and an `Allow` header
//! naming the methods it does serve (RFC 9110), not with a 404 that says the path does not exist.

use std::collections::BTreeMap;

use connections::routes::routes;
use reqwest::Method;

use crate::support::TestApp;

/// The route table's paths with a sample value in each `{segment}`, and the methods each serves.
fn paths_and_methods() -> BTreeMap<String, Vec<String>> {
    let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for route in routes() {
        let path: Vec<&str> = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "sample_value" } else { seg })
            .collect();
        paths.entry(path.join("/")).or_default().push(route.method.as_str().to_owned());
    }
    paths
}

#[tokio::test]
async fn every_known_path_answers_another_method_with_405_and_the_methods_it_allows() {
    let app = TestApp::spawn().await;
    let http = app.http();
    let paths = paths_and_methods();
    assert!(paths.len() > 20, "{paths:?}");
    for (path, served) in &paths {
        for method in
            [Method::TRACE, Method::OPTIONS, Method::PUT, Method::DELETE, Method::PATCH, Method::HEAD]
        {
            if served.iter().any(|m| m == method.as_str()) {
                continue;
            }
            let res = http.request(method.clone(), format!("{}{path}", app.base)).send().await.unwrap();
            assert_eq!(res.status(), 405, "{method} {path}");
            let allow =
                res.headers().get("allow").unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
            let mut allowed: Vec<String> =
                allow.to_str().unwrap().split(',').map(|m| m.trim().to_owned()).collect();
            allowed.sort();
            let mut expected = served.clone();
            expected.sort();
            assert_eq!(allowed, expected, "{method} {path}");
            if path.starts_with("/api/") && method != Method::HEAD {
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(body["error"]["code"], "method_not_allowed", "{method} {path}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn a_fixed_path_does_not_lend_its_methods_to_a_pattern_that_also_matches_it() {
    // `/admin/services/new` is served by GET only; `/admin/services/{link}` takes POST, but "new" is
    // the page, not a link name.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = app.http().post(format!("{}/admin/services/new", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    let page = admin.get("/admin/services/new").await;
    assert_eq!(page.status, 200);
}

#[tokio::test]
async fn unknown_paths_still_answer_404_whatever_the_method() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/nope", "/api/v1/connections/some_link/nope", "/no/such/page"] {
        let res = app.http().request(Method::TRACE, format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}
