//! API key value prefixes (Okta's `SSWS `, PagerDuty's `Token token=`): the person connecting pastes
//! only the key, the upstream receives the prefix and the key, every echo of the key is masked, and a
//! prefix that could not be sent as typed is refused with a message on its row.

use serde_json::{Value, json};

use crate::support::{Api, TestApp, Upstream, assert_hidden, canary, connection, counts, invoke, spawn_app};

/// An API Key service under `base` whose one parameter is sent after `prefix`.
fn prefixed_service(link: &str, base: &str, param_type: &str, name: &str, prefix: &str) -> Value {
    json!({
        "name": format!("Service {link}"),
        "link_name": link,
        "auth_type": "api_key",
        "api_base_url": base,
        "api_key": {"param_type": param_type, "params": [
            {"name": name, "display_name": "API token", "value_prefix": prefix}
        ]}
    })
}

#[tokio::test]
async fn the_upstream_receives_the_prefix_before_the_pasted_key_and_no_echo_shows_the_key() {
    let app = spawn_app().await;
    let up = Upstream::start().await;
    let api = Api::admin(&app).await;
    let base = format!("{}/api", up.url);
    for (link, param_type, name, prefix) in
        [("okta", "header", "Authorization", "SSWS "), ("pagerduty", "query", "token", "Token token=")]
    {
        let service =
            api.create("/api/v1/services", &prefixed_service(link, &base, param_type, name, prefix)).await;
        assert_eq!(service["api_key"]["params"][0]["value_prefix"], prefix, "kept as typed, space included");
        api.create("/api/v1/connections", &connection(link, link, &[])).await;
        let key = canary(link);
        let res = api
            .put(&format!("/api/v1/connections/{link}/credentials"), &json!({"params": {name: key}}))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);

        let res = invoke(&api, link, json!({"method": "GET", "path": "/me"})).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let got = up.received().pop().unwrap();
        let sent = if param_type == "header" {
            got.header(name)
        } else {
            got.query_pairs().into_iter().find(|(k, _)| k == name).unwrap().1
        };
        assert_eq!(sent, format!("{prefix}{key}"), "{link}");
        assert_hidden(&res.body, std::slice::from_ref(&key), "the invoke answer");
        assert_hidden(&api.get(&format!("/api/v1/connections/{link}")).await.body, &[key], "the connection");
    }
}

#[tokio::test]
async fn a_prefix_that_cannot_be_sent_as_typed_is_refused_on_its_row_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let api = Api::admin(&app).await;
    for (prefix, message) in [
        ("SSWS\n", "Use letters, digits, punctuation and spaces only (ASCII)."),
        ("Clé ", "Use letters, digits, punctuation and spaces only (ASCII)."),
        ("   ", "Enter the text sent before the key, or leave it empty."),
        (&"p".repeat(51), "Use at most 50 characters."),
    ] {
        let service = prefixed_service("bad", "https://api.example.com", "header", "Authorization", prefix);
        let res = api.post("/api/v1/services", &service).await;
        assert_eq!(res.status, 422, "{prefix:?}: {}", res.body);
        assert_eq!(res.json()["errors"]["api_key.params.0.value_prefix"], json!([message]), "{prefix:?}");
    }
    assert_eq!(counts(&app).await.0, 0, "no service stored");
    let plain = prefixed_service("plain", "https://api.example.com", "header", "X-Api-Key", "");
    let created = api.create("/api/v1/services", &plain).await;
    assert_eq!(
        created["api_key"]["params"][0],
        json!({"name": "X-Api-Key", "display_name": "API token"}),
        "an empty prefix is no prefix"
    );
}
