//! Invoking connections through `POST /api/v1/connections/{link}/invoke` against a recording
//! upstream: credential injection for every API-key parameter type, Basic and OAuth2 placements
//! (a caller's header or parameter of the same name replaced, never duplicated), confinement to the
//! service's API base URL, the outbound address policy, redirects, the response cap, timeouts,
//! masked echoes, binary bodies, the 409 of a connection that is not connected, Test, and the
//! activity record — each with what the upstream actually received.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use connections::config::Cidr;
use connections::models::event::ConnectionEvent;
use connections::models::user::Role;
use serde_json::{Value, json};

use crate::support::{
    Api, FakeProvider, T0, TestApp, Upstream, assert_hidden, basic_service, canary, connect_oauth,
    connection, database_text, events, flash_of, follow, invoke, oauth_service_at, row, spawn_app, text_of,
};

/// An API Key service under `base` with two parameters of `param_type` (header names for headers).
fn key_service(link: &str, base: Option<&str>, param_type: &str) -> Value {
    let (key, org) = if param_type == "header" { ("X-Api-Key", "X-Org-Id") } else { ("api_key", "org") };
    let mut service = json!({
        "name": format!("Service {link}"),
        "link_name": link,
        "auth_type": "api_key",
        "api_key": {"param_type": param_type, "params": [
            {"name": key, "display_name": "API Key"},
            {"name": org, "display_name": "Organisation"}
        ]}
    });
    if let Some(base) = base {
        service["api_base_url"] = base.into();
    }
    service
}

/// An app that may call loopback, an upstream, and the admin's API client.
struct Env {
    app: TestApp,
    up: Upstream,
    api: Api,
}

async fn env() -> Env {
    let app = spawn_app().await;
    let up = Upstream::start().await;
    let api = Api::admin(&app).await;
    Env { app, up, api }
}

impl Env {
    fn base(&self) -> String {
        format!("{}/api", self.up.url)
    }

    /// Creates an API Key service of `param_type` and a connection `link` with two fresh values.
    async fn key_connection(&self, link: &str, param_type: &str) -> (String, String) {
        self.api.create("/api/v1/services", &key_service(link, Some(&self.base()), param_type)).await;
        self.api.create("/api/v1/connections", &connection(link, link, &[])).await;
        let (key, org) = (canary("key"), canary("org"));
        let names = if param_type == "header" { ("X-Api-Key", "X-Org-Id") } else { ("api_key", "org") };
        let body = json!({"params": {names.0: key, names.1: org}});
        let res = self.api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await;
        assert_eq!(res.status, 200, "{}", res.body);
        (key, org)
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn query_string_keys_replace_the_callers_parameters_of_the_same_name_and_their_echo_is_masked() {
    let e = env().await;
    let (key, org) = e.key_connection("desk", "query").await;
    let res = invoke(
        &e.api,
        "desk",
        json!({
            "method": "GET",
            "path": "/items?api_key=forged&page=2",
            "query": {"api_key": "also-forged", "q": "a b"}
        }),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.only();
    assert_eq!((got.method.as_str(), got.path.as_str()), ("GET", "/api/items"));
    assert_eq!(
        got.query_pairs(),
        pairs(&[("page", "2"), ("q", "a b"), ("api_key", &key), ("org", &org)]),
        "one api_key: ours"
    );

    let answer = res.json();
    assert_eq!((answer["status"].as_u64(), answer["body_base64"].as_bool()), (Some(200), Some(false)));
    let echoed_query = answer["headers"]["x-echo-query"].as_str().unwrap();
    assert_eq!(echoed_query, "page=2&q=a+b&api_key=[redacted]&org=[redacted]");
    let echo: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["query"], echoed_query);
    assert_hidden(&res.body, &[key, org], "the invoke answer");
}

#[tokio::test]
async fn form_keys_are_merged_into_the_callers_form_body_with_one_content_type() {
    let e = env().await;
    let (key, org) = e.key_connection("forms", "form").await;
    let res = invoke(
        &e.api,
        "forms",
        json!({
            "method": "POST",
            "path": "/orders",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": "api_key=forged&name=Widget+%231&qty=3"
        }),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.only();
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.form_pairs(),
        pairs(&[("name", "Widget #1"), ("qty", "3"), ("api_key", &key), ("org", &org)])
    );
    assert_eq!(got.header("content-type"), "application/x-www-form-urlencoded", "replaced, not duplicated");
    assert_eq!(got.header("content-length"), got.body.len().to_string());
    assert_hidden(&res.body, &[key.clone(), org.clone()], "the invoke answer");

    // Without a body of its own the caller still gets the key as the form.
    let res = invoke(&e.api, "forms", json!({"method": "POST", "path": "/orders"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.received().pop().unwrap();
    assert_eq!(got.form_pairs(), pairs(&[("api_key", &key), ("org", &org)]));
    assert_eq!(got.header("content-type"), "application/x-www-form-urlencoded");

    // A JSON body cannot carry a form parameter: refused before anything is sent.
    let before = e.up.count();
    let res =
        invoke(&e.api, "forms", json!({"method": "POST", "path": "/orders", "body": {"name": "Widget"}}))
            .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["errors"]["body"][0].as_str().unwrap().contains("form"), "{}", res.body);
    assert_eq!(e.up.count(), before, "no outbound request");
}

#[tokio::test]
async fn header_keys_replace_the_callers_headers_of_the_same_name_in_any_case() {
    let e = env().await;
    let (key, org) = e.key_connection("hdr", "header").await;
    let res = invoke(
        &e.api,
        "hdr",
        json!({
            "method": "DELETE",
            "path": "/items/7",
            "headers": {
                "x-api-key": "forged",
                "X-API-KEY": "forged-too",
                "Accept": "application/json",
                "X-Trace": "t-1"
            }
        }),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.only();
    assert_eq!((got.method.as_str(), got.path.as_str()), ("DELETE", "/api/items/7"));
    assert_eq!(got.header("x-api-key"), key, "exactly one, ours");
    assert_eq!(got.header("x-org-id"), org);
    assert_eq!(
        (got.header("accept"), got.header("x-trace")),
        ("application/json".into(), "t-1".into()),
        "other headers pass"
    );
    let answer = res.json();
    assert_eq!(answer["headers"]["x-echo-api-key"], "[redacted]");
    let echo: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["headers"]["x-api-key"], json!(["[redacted]"]));
    assert_eq!(echo["headers"]["x-org-id"], json!(["[redacted]"]));
    assert_hidden(&res.body, &[key, org], "the invoke answer");
}

#[tokio::test]
async fn basic_credentials_replace_the_callers_authorization_and_no_part_of_them_comes_back() {
    let e = env().await;
    let mut service = basic_service("legacy");
    service["api_base_url"] = e.base().into();
    e.api.create("/api/v1/services", &service).await;
    e.api.create("/api/v1/connections", &connection("legacy", "legacy", &[])).await;
    let password = canary("password");
    let res = e
        .api
        .put("/api/v1/connections/legacy/credentials", &json!({"username": "svc-user", "password": password}))
        .await;
    assert_eq!(res.status, 200);

    let res =
        invoke(&e.api, "legacy", json!({"path": "/whoami", "headers": {"Authorization": "Bearer forged"}}))
            .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let encoded = STANDARD.encode(format!("svc-user:{password}"));
    assert_eq!(e.up.only().header("authorization"), format!("Basic {encoded}"));
    let answer = res.json();
    assert_eq!(answer["headers"]["x-echo-authorization"], "[redacted]");
    assert!(
        answer["body"].as_str().unwrap().contains("\"authorization\":[\"[redacted]\"]"),
        "{}",
        answer["body"]
    );
    assert_hidden(&res.body, &[password, encoded], "the invoke answer");
}

#[tokio::test]
async fn oauth2_tokens_go_where_the_service_says_header_with_its_prefix_or_query() {
    let e = env().await;
    let fake = FakeProvider::start().await;
    let browser = e.app.admin().await;
    let placements = [
        ("bearer", json!(null)),
        ("zoho", json!({"in": "header", "name": "Authorization", "prefix": "Zoho-oauthtoken"})),
        ("bare", json!({"in": "header", "name": "X-Access-Token", "prefix": ""})),
        ("inquery", json!({"in": "query"})),
    ];
    for (link, placement) in &placements {
        let mut service = oauth_service_at(&fake, link);
        service["api_base_url"] = e.base().into();
        if !placement.is_null() {
            service["oauth2"]["token_placement"] = placement.clone();
        }
        e.api.create("/api/v1/services", &service).await;
        e.api.create("/api/v1/connections", &connection(link, link, &["read", "offline_access"])).await;
        connect_oauth(&browser, link).await;
    }
    let token = |link: &str| {
        let app = &e.app;
        let link = link.to_owned();
        async move {
            row(app, &link).await.open_access_token(&app.state.keyring).unwrap().unwrap().expose().to_owned()
        }
    };
    let forged = json!({"Authorization": "Bearer forged", "X-Access-Token": "forged"});

    let res = invoke(&e.api, "bearer", json!({"path": "/me", "headers": forged})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.received().pop().unwrap();
    assert_eq!(got.header("authorization"), format!("Bearer {}", token("bearer").await));
    assert_eq!(got.header("x-access-token"), "forged", "another header is the caller's own");
    assert_eq!(res.json()["headers"]["x-echo-authorization"], "[redacted]");

    let res = invoke(&e.api, "zoho", json!({"path": "/me", "headers": forged})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.received().pop().unwrap();
    assert_eq!(got.header("authorization"), format!("Zoho-oauthtoken {}", token("zoho").await));
    assert_eq!(res.json()["headers"]["x-echo-authorization"], "[redacted]");

    let res = invoke(&e.api, "bare", json!({"path": "/me", "headers": forged})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.received().pop().unwrap();
    assert_eq!(got.header("x-access-token"), token("bare").await, "no prefix: the token alone");
    assert_eq!(got.header("authorization"), "Bearer forged");

    let res = invoke(
        &e.api,
        "inquery",
        json!({"path": "/me?access_token=forged&x=1", "query": {"access_token": "forged-too"}}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = e.up.received().pop().unwrap();
    assert_eq!(got.query_pairs(), pairs(&[("x", "1"), ("access_token", &token("inquery").await)]));
    assert!(got.header_values("authorization").is_empty());
    assert_eq!(res.json()["headers"]["x-echo-query"], "x=1&access_token=[redacted]");

    let mut tokens = Vec::new();
    for (link, _) in &placements {
        tokens.push(token(link).await);
    }
    let all: String = e.up.received().iter().map(|r| r.query.clone()).collect();
    assert!(!all.is_empty());
    assert_eq!(fake.token_count(), 4, "one code exchange each, no refresh");
    let mut answers = String::new();
    for (link, _) in &placements {
        answers.push_str(&invoke(&e.api, link, json!({"path": "/again"})).await.body);
    }
    assert_hidden(&answers, &tokens, "the invoke answers");
}

#[tokio::test]
async fn targets_outside_the_api_base_url_are_refused_before_any_request() {
    let e = env().await;
    let (key, _) = e.key_connection("desk", "header").await;
    let port = e.up.port;
    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    let paths = [
        "/../admin",
        "/items/../../admin",
        "..",
        "//evil.example/x",
        "/%2e%2e/admin",
        "/..%2fadmin",
        "/items%2F..%2F..%2Fadmin",
        "/a%5c..%5cb",
        "/a\\..\\b",
    ];
    let urls = [
        "http://evil.example/api/x".to_owned(),
        format!("http://127.0.0.1:{other_port}/api/x"),
        format!("http://localhost:{port}/api/x"),
        format!("https://127.0.0.1:{port}/api/x"),
        format!("http://user:pw@127.0.0.1:{port}/api/x"),
        format!("http://127.0.0.1:{port}@evil.example/api/x"),
        format!("http://127.0.0.1:{port}/apix"),
        format!("http://127.0.0.1:{port}/other"),
        format!("http://127.0.0.1:{port}/api/../other"),
        format!("//127.0.0.1:{port}/api/x"),
        "/api/x".to_owned(),
    ];
    for path in paths {
        let res = invoke(&e.api, "desk", json!({"path": path})).await;
        assert_eq!(res.status, 422, "{path}: {}", res.body);
        assert!(
            res.json()["errors"]["path"].is_array() || res.json()["errors"]["url"].is_array(),
            "{path}: {}",
            res.body
        );
    }
    for url in &urls {
        let res = invoke(&e.api, "desk", json!({"url": url})).await;
        assert_eq!(res.status, 422, "{url}: {}", res.body);
        assert!(res.json()["errors"]["url"].is_array(), "{url}: {}", res.body);
    }
    let both = invoke(&e.api, "desk", json!({"url": format!("{}/x", e.base()), "path": "/x"})).await;
    assert_eq!(both.status, 422);
    let neither = invoke(&e.api, "desk", json!({"method": "GET"})).await;
    assert_eq!(neither.status, 422);
    assert_eq!(e.up.count(), 0, "no request left for a refused target: {:?}", e.up.received());

    // Under the base, either way, the request goes out.
    assert_eq!(invoke(&e.api, "desk", json!({"url": format!("{}/x/y", e.base())})).await.status, 200);
    assert_eq!(invoke(&e.api, "desk", json!({"path": "x/./y"})).await.status, 200);
    assert_eq!(e.up.received().iter().map(|r| r.path.clone()).collect::<Vec<_>>(), ["/api/x/y", "/api/x/y"]);
    assert_eq!(e.up.received()[0].header("x-api-key"), key);
}

#[tokio::test]
async fn a_service_without_an_api_base_url_cannot_be_invoked_at_all() {
    let e = env().await;
    e.api.create("/api/v1/services", &key_service("anywhere", None, "header")).await;
    e.api.create("/api/v1/connections", &connection("anywhere", "anywhere", &[])).await;
    let body = json!({"params": {"X-Api-Key": canary("key"), "X-Org-Id": "org-1"}});
    assert_eq!(e.api.put("/api/v1/connections/anywhere/credentials", &body).await.status, 200);

    let res = invoke(&e.api, "anywhere", json!({"path": "/x"})).await;
    assert_eq!(res.status, 422);
    assert!(res.json()["errors"]["service"][0].as_str().unwrap().contains("no API base URL"), "{}", res.body);
    for url in ["/x", "127.0.0.1/x", "ftp://127.0.0.1/x", "x"] {
        assert_eq!(invoke(&e.api, "anywhere", json!({"url": url})).await.status, 422, "{url}");
    }
    // Not even to an address the allow-list lets through: there is no confinement to check it against.
    let res = invoke(&e.api, "anywhere", json!({"url": format!("{}/elsewhere/ok", e.up.url)})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["errors"]["service"][0].as_str().unwrap().contains("no API base URL"), "{}", res.body);
    assert_eq!(e.up.count(), 0, "nothing left: {:?}", e.up.received());
}

/// Every spelling of a loopback address, as a service's API base URL, is refused when the allow-list
/// does not name it. (Private, link-local and other internal ranges are checked on the classifier in
/// `outbound::tests`, without sending anything.)
#[tokio::test]
async fn loopback_addresses_are_refused_without_the_allow_list_however_they_are_written() {
    let up = Upstream::start().await;
    let port = up.port;
    // The default configuration (https only), and with plain http on so that a hole in the address
    // policy would reach the loopback upstream.
    for allow_http in [false, true] {
        let app = TestApp::spawn_with(|config| config.outbound_allow_http = allow_http).await;
        assert!(app.state.config.outbound_allow_cidrs.is_empty());
        let api = Api::admin(&app).await;
        let scheme = if allow_http { "http" } else { "https" };
        let hosts = [
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
            format!("[::ffff:127.0.0.1]:{port}"),
            format!("2130706433:{port}"),
            format!("0x7f.1:{port}"),
            format!("localhost:{port}"),
        ];
        for (i, host) in hosts.iter().enumerate() {
            let link = format!("open{i}");
            api.create(
                "/api/v1/services",
                &key_service(&link, Some(&format!("{scheme}://{host}/latest")), "header"),
            )
            .await;
            api.create("/api/v1/connections", &connection(&link, &link, &[])).await;
            let body = json!({"params": {"X-Api-Key": canary("key"), "X-Org-Id": "org-1"}});
            assert_eq!(api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await.status, 200);
            let res = invoke(&api, &link, json!({"path": "/meta-data"})).await;
            assert_eq!(res.status, 422, "{host}: {}", res.body);
            let message = res.json()["errors"]["url"][0].as_str().unwrap().to_owned();
            assert!(message.contains("internal"), "{host}: {message}");
            // The attempt is on the record, with the reason.
            let events = events(&app, &link).await;
            assert_eq!(events.len(), 1);
            assert!(!events[0].ok && events[0].status.is_none(), "{events:?}");
            assert!(events[0].message.as_deref().is_some_and(|m| m.contains("internal")), "{events:?}");
        }
        assert_eq!(up.count(), 0, "nothing reached the upstream");
    }
}

#[tokio::test]
async fn a_redirect_comes_back_as_is_and_is_not_followed() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    let res = invoke(&e.api, "desk", json!({"path": "/redirect"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let answer = res.json();
    assert_eq!(answer["status"], 302);
    assert_eq!(answer["headers"]["location"], "https://elsewhere.example/landing?from=upstream");
    assert_eq!(e.up.count(), 1);
}

#[tokio::test]
async fn an_answer_over_five_mib_is_a_clear_502_with_or_without_content_length() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    for path in ["/big", "/big-chunked"] {
        let res = invoke(&e.api, "desk", json!({"path": path})).await;
        assert_eq!(res.status, 502, "{path}: {}", res.body.chars().take(300).collect::<String>());
        let error = &res.json()["error"];
        assert_eq!(error["code"], "upstream");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("larger than 5242880 bytes"), "{message}");
        assert!(res.body.len() < 1000);
    }
    let events = events(&e.app, "desk").await;
    assert_eq!(events.len(), 2);
    assert!(
        events.iter().all(|ev| !ev.ok
            && ev.status.is_none()
            && ev.message.as_deref().unwrap().contains("larger than"))
    );
}

#[tokio::test]
async fn a_slow_upstream_times_out_after_timeout_ms_with_a_clear_error() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    let started = std::time::Instant::now();
    let res = invoke(&e.api, "desk", json!({"path": "/slow", "timeout_ms": 200})).await;
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1800),
        "gave up at the timeout, not after the answer"
    );
    assert_eq!(res.status, 502, "{}", res.body);
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("The upstream did not answer within 200 ms ("), "{message}");
    assert!(message.contains("/api/slow"), "{message}");
    assert_eq!(e.up.count(), 1);
}

#[tokio::test]
async fn a_binary_answer_comes_back_base64_and_a_binary_upload_goes_out_as_bytes() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    let res = invoke(&e.api, "desk", json!({"path": "/binary"})).await;
    assert_eq!(res.status, 200);
    let answer = res.json();
    assert_eq!(answer["body_base64"], true);
    assert_eq!(
        STANDARD.decode(answer["body"].as_str().unwrap()).unwrap(),
        [0x89, b'P', b'N', b'G', 0xff, 0x00, 0xfe]
    );
    assert_eq!(answer["headers"]["content-type"], "application/octet-stream");

    let bytes = [0u8, 0xff, 0x10, 0x80];
    let res = invoke(
        &e.api,
        "desk",
        json!({"method": "PUT", "path": "/upload", "body": STANDARD.encode(bytes), "body_base64": true,
               "headers": {"Content-Type": "application/octet-stream"}}),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(e.up.received().pop().unwrap().body, bytes);
    let res = invoke(
        &e.api,
        "desk",
        json!({"method": "PUT", "path": "/upload", "body": "%%%", "body_base64": true}),
    )
    .await;
    assert_eq!(res.status, 422);
}

#[tokio::test]
async fn a_json_body_goes_out_as_json_and_a_text_body_as_is() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    let res = invoke(
        &e.api,
        "desk",
        json!({"method": "patch", "path": "/t/1", "body": {"subject": "Printer", "n": 2}}),
    )
    .await;
    assert_eq!(res.status, 200);
    let got = e.up.received().pop().unwrap();
    assert_eq!(got.method, "PATCH");
    assert_eq!(got.header("content-type"), "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&got.body).unwrap(), json!({"subject": "Printer", "n": 2}));
    let res = invoke(
        &e.api,
        "desk",
        json!({"method": "POST", "path": "/t", "body": "<x/>", "headers": {"Content-Type": "text/xml"}}),
    )
    .await;
    assert_eq!(res.status, 200);
    let got = e.up.received().pop().unwrap();
    assert_eq!((got.header("content-type"), got.body), ("text/xml".to_owned(), b"<x/>".to_vec()));
    for bad in [
        json!({"method": "CONNECT", "path": "/"}),
        json!({"method": "GE T", "path": "/"}),
        json!({"path": "/", "nope": 1}),
    ] {
        let res = invoke(&e.api, "desk", bad.clone()).await;
        assert!(res.status == 422 || res.status == 400, "{bad}: {} {}", res.status, res.body);
    }
    let res = invoke(&e.api, "desk", json!({"path": "/", "headers": {"X-Bad": "a\r\nInjected: 1"}})).await;
    assert_eq!(res.status, 422);
    assert_eq!(e.up.count(), 2);
}

#[tokio::test]
async fn a_connection_that_is_not_connected_answers_409_with_its_status_and_no_request() {
    let e = env().await;
    e.api.create("/api/v1/services", &key_service("desk", Some(&e.base()), "header")).await;
    e.api.create("/api/v1/connections", &connection("desk", "desk", &[])).await;
    let res = invoke(&e.api, "desk", json!({"path": "/x"})).await;
    assert_eq!(res.status, 409, "{}", res.body);
    let error = &res.json()["error"];
    assert_eq!(
        (error["code"].as_str(), error["status"].as_str()),
        (Some("not_connected"), Some("not_connected"))
    );
    assert!(error["message"].as_str().unwrap().contains("has not been connected yet"), "{error}");
    let res = e.api.post("/api/v1/connections/desk/test", &json!({})).await;
    assert_eq!((res.status, res.json()["error"]["code"].as_str()), (409, Some("not_connected")));
    let res = invoke(&e.api, "nowhere", json!({"path": "/x"})).await;
    assert_eq!(res.status, 404);

    // Revoked: "disconnected", and what to do.
    let body = json!({"params": {"X-Api-Key": canary("key"), "X-Org-Id": "1"}});
    assert_eq!(e.api.put("/api/v1/connections/desk/credentials", &body).await.status, 200);
    assert_eq!(invoke(&e.api, "desk", json!({"path": "/x"})).await.status, 200);
    assert_eq!(e.api.post("/api/v1/connections/desk/revoke", &json!({})).await.status, 200);
    let res = invoke(&e.api, "desk", json!({"path": "/x"})).await;
    assert_eq!(res.status, 409);
    let error = &res.json()["error"];
    assert_eq!(error["status"], "disconnected");
    assert!(error["message"].as_str().unwrap().contains("connect it again"), "{error}");
    assert_eq!(e.up.count(), 1);
}

#[tokio::test]
async fn only_an_sdadmin_token_may_invoke_or_test() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    e.app.add_user("tech", Role::Technician, "technician-password").await;
    let tech = Api::for_user(&e.app, "tech").await;
    let res = invoke(&tech, "desk", json!({"path": "/x"})).await;
    assert_eq!((res.status, res.json()["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(tech.post("/api/v1/connections/desk/test", &json!({})).await.status, 403);
    let anonymous = e
        .app
        .http()
        .post(format!("{}/api/v1/connections/desk/invoke", e.app.base))
        .json(&json!({"path": "/x"}));
    assert_eq!(anonymous.send().await.unwrap().status(), 401);
    assert_eq!(e.up.count(), 0);
    assert!(events(&e.app, "desk").await.is_empty());

    // Any SDAdmin may use a connection they do not own.
    e.app.add_user("bob", Role::SdAdmin, "second-admin-password").await;
    let bob = Api::for_user(&e.app, "bob").await;
    assert_eq!(invoke(&bob, "desk", json!({"path": "/x"})).await.status, 200);
    assert_eq!(events(&e.app, "desk").await[0].actor, "bob");
}

#[tokio::test]
async fn test_runs_the_services_test_request_and_shows_status_latency_and_a_masked_excerpt() {
    let e = env().await;
    let mut service = key_service("desk", Some(&e.base()), "header");
    service["test_request"] = "GET /me".into();
    e.api.create("/api/v1/services", &service).await;
    e.api.create("/api/v1/connections", &connection("desk", "desk", &[])).await;
    let key = canary("key");
    let body = json!({"params": {"X-Api-Key": key, "X-Org-Id": "org-1"}});
    assert_eq!(e.api.put("/api/v1/connections/desk/credentials", &body).await.status, 200);

    let res = e.api.post("/api/v1/connections/desk/test", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let result = res.json();
    assert_eq!((result["ok"].as_bool(), result["status"].as_u64()), (Some(true), Some(200)));
    assert_eq!(result["message"], "GET /me answered HTTP 200.");
    assert!(result["latency_ms"].as_i64().unwrap() >= 0);
    let excerpt = result["excerpt"].as_str().unwrap();
    assert!(excerpt.starts_with('{') && excerpt.chars().count() <= 300, "{excerpt}");
    let got = e.up.only();
    assert_eq!(
        (got.method.as_str(), got.path.as_str(), got.header("x-api-key")),
        ("GET", "/api/me", key.clone())
    );

    // The page's Test button: the outcome is the flash on the details page.
    let browser = e.app.admin().await;
    let done = browser.submit("/admin/connections/desk", "/admin/connections/desk/test", &[]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = follow(&browser, &done).await;
    let flash = flash_of(&page);
    assert!(flash.contains("Test: GET /me answered HTTP 200.") && flash.contains("Body: {"), "{flash}");
    assert_hidden(&page.body, std::slice::from_ref(&key), "the details page");
    assert_hidden(&res.body, &[key], "the test answer");

    let tests: Vec<ConnectionEvent> =
        events(&e.app, "desk").await.into_iter().filter(|ev| ev.kind == "test").collect();
    assert_eq!(tests.len(), 2);
    assert!(tests.iter().all(|t| t.status == Some(200) && t.path.as_deref() == Some("/api/me") && t.ok));
}

#[tokio::test]
async fn test_without_a_test_request_checks_the_credentials_or_the_token_and_is_recorded() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    let res = e.api.post("/api/v1/connections/desk/test", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let result = res.json();
    assert_eq!((result["ok"].as_bool(), result["status"].as_u64()), (Some(true), None));
    assert!(result["message"].as_str().unwrap().contains("credentials are stored"), "{result}");
    assert_eq!(e.up.count(), 0);

    let fake = FakeProvider::start().await;
    e.api.create("/api/v1/services", &oauth_service_at(&fake, "zoho")).await;
    e.api.create("/api/v1/connections", &connection("zoho", "zoho", &["read", "offline_access"])).await;
    connect_oauth(&e.app.admin().await, "zoho").await;
    let res = e.api.post("/api/v1/connections/zoho/test", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.json()["message"].as_str().unwrap().contains("A valid access token was obtained"),
        "{}",
        res.body
    );
    assert_eq!(fake.token_count(), 1, "a fresh token needs no call");
    // An expired token is refreshed by Test.
    e.app.clock.advance(3600);
    let res = e.api.post("/api/v1/connections/zoho/test", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1);

    for link in ["desk", "zoho"] {
        let tests: Vec<ConnectionEvent> =
            events(&e.app, link).await.into_iter().filter(|ev| ev.kind == "test").collect();
        assert!(!tests.is_empty() && tests.iter().all(|t| t.ok && t.actor == "admin"), "{link}: {tests:?}");
    }
}

#[tokio::test]
async fn every_invoke_is_recorded_without_secrets_and_shown_as_recent_activity() {
    let e = env().await;
    let (key, org) = e.key_connection("desk", "query").await;
    let secret_query = canary("query-secret");
    let started = T0;
    e.app.clock.advance(5);
    assert_eq!(
        invoke(
            &e.api,
            "desk",
            json!({"method": "POST", "path": "/tickets?token=".to_owned() + &secret_query})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        invoke(&e.api, "desk", json!({"path": "/redirect", "query": {"q": secret_query}})).await.status,
        200
    );
    assert_eq!(invoke(&e.api, "desk", json!({"path": "/big"})).await.status, 502);

    let events = events(&e.app, "desk").await;
    assert_eq!(events.len(), 3, "{events:?}");
    let shape: Vec<String> = events
        .iter()
        .map(|ev| {
            let (method, host, path) =
                (ev.method.as_deref().unwrap(), ev.host.as_deref().unwrap(), ev.path.as_deref().unwrap());
            format!("{} {} {method} {host}{path} {:?} {}", ev.kind, ev.actor, ev.status, ev.ok)
        })
        .collect();
    assert_eq!(
        shape,
        [
            "invoke admin POST 127.0.0.1/api/tickets Some(200) true",
            "invoke admin GET 127.0.0.1/api/redirect Some(302) true",
            "invoke admin GET 127.0.0.1/api/big None false",
        ]
    );
    assert!(events.iter().all(|ev| ev.at == started + 5 && ev.latency_ms >= 0));
    assert_eq!(row(&e.app, "desk").await.last_used_at, Some(started + 5));

    let browser = e.app.admin().await;
    let page = browser.get("/admin/connections/desk").await;
    let text = text_of(&page);
    assert!(text.contains("Recent activity"), "{text}");
    let activity = &text[text.find("Recent activity").unwrap()..];
    assert!(activity.contains("POST 127.0.0.1 /api/tickets admin 200"), "{activity}");
    assert!(activity.contains("GET 127.0.0.1 /api/redirect admin 302"), "{activity}");
    assert!(activity.contains("GET 127.0.0.1 /api/big admin Failed The response from"), "{activity}");
    assert!(activity.find("/api/big").unwrap() < activity.find("/api/tickets").unwrap(), "newest first");
    assert!(text.contains("Last used 2026-09-21 14:13 UTC"), "{text}");
    let mut db_text = database_text(&e.app).await;
    db_text.push_str(&page.body);
    assert_hidden(&db_text, &[key, org, secret_query], "the activity record or the details page");
}

#[tokio::test]
async fn a_secret_echoed_inside_json_with_escapes_is_masked_too() {
    let e = env().await;
    e.api.create("/api/v1/services", &key_service("desk", Some(&e.base()), "header")).await;
    e.api.create("/api/v1/connections", &connection("desk", "desk", &[])).await;
    let key = format!("{}\"q\\b/s", canary("key"));
    let body = json!({"params": {"X-Api-Key": key, "X-Org-Id": "org-1"}});
    assert_eq!(e.api.put("/api/v1/connections/desk/credentials", &body).await.status, 200);
    let res = invoke(&e.api, "desk", json!({"path": "/echo"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(e.up.only().header("x-api-key"), key);
    let answer = res.json();
    assert_eq!(answer["headers"]["x-echo-api-key"], "[redacted]");
    let echo: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["headers"]["x-api-key"], json!(["[redacted]"]), "the JSON-escaped echo is masked");
    let escaped = serde_json::to_string(&key).unwrap();
    assert_hidden(&res.body, &[key, escaped.trim_matches('"').to_owned()], "the invoke answer");
}

#[tokio::test]
async fn concurrent_invokes_are_all_recorded_and_the_details_page_shows_them_without_waiting() {
    let e = env().await;
    e.key_connection("desk", "header").await;
    let api = std::sync::Arc::new(Api::admin(&e.app).await);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40 {
        let api = api.clone();
        calls.spawn(
            async move { invoke(&api, "desk", json!({"path": format!("/tickets/{i}")})).await.status },
        );
    }
    assert!(calls.join_all().await.iter().all(|status| *status == 200));
    // The page flushes this instance's queue itself: the latest call is listed at once.
    let page = e.app.admin().await.get("/admin/connections/desk").await;
    assert_eq!(page.status, 200);
    let listed = (0..40).filter(|i| page.body.contains(&format!("/api/tickets/{i}<"))).count();
    assert_eq!(listed, 20, "the last 20 of 40 calls");
    let mut paths: Vec<String> =
        events(&e.app, "desk").await.into_iter().map(|ev| ev.path.unwrap()).collect();
    paths.sort();
    let mut expected: Vec<String> = (0..40).map(|i| format!("/api/tickets/{i}")).collect();
    expected.sort();
    assert_eq!(paths, expected, "each call recorded once");
}

#[tokio::test]
async fn an_event_that_cannot_be_written_costs_only_itself() {
    use connections::activity::Entry;
    use connections::models::event::NewEvent;
    let e = env().await;
    e.key_connection("desk", "header").await;
    let id = row(&e.app, "desk").await.id;
    let entry = |connection_id: i64, path: &str| Entry {
        connection_id,
        event: NewEvent {
            kind: "invoke",
            actor: "admin".into(),
            path: Some(path.into()),
            ok: true,
            ..NewEvent::default()
        },
        at: T0,
        mark_used: false,
    };
    // Queued together, so they share a batch: the one of a connection that is gone fails.
    e.app.state.activity.record(entry(id, "/before")).await;
    e.app.state.activity.record(entry(id + 1000, "/gone")).await;
    e.app.state.activity.record(entry(id, "/after")).await;
    let paths: Vec<String> = events(&e.app, "desk").await.into_iter().map(|ev| ev.path.unwrap()).collect();
    assert_eq!(paths, ["/before", "/after"]);
}

#[tokio::test]
async fn a_basic_password_or_api_key_echoed_base64_encoded_again_is_masked() {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let e = env().await;
    let mut service = basic_service("legacy");
    service["api_base_url"] = e.base().into();
    e.api.create("/api/v1/services", &service).await;
    e.api.create("/api/v1/connections", &connection("legacy", "legacy", &[])).await;
    // Characters whose encodings differ between the alphabets and need padding.
    let password = format!("{}?>~\u{ff}", canary("password"));
    let res = e
        .api
        .put("/api/v1/connections/legacy/credentials", &json!({"username": "svc-user", "password": password}))
        .await;
    assert_eq!(res.status, 200);
    let res = invoke(&e.api, "legacy", json!({"path": "/reencode"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let answer = res.json();
    assert_eq!(answer["headers"]["x-echo-b64"], "[redacted]");
    let echo: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    for field in ["password", "password_url", "pair_url", "pair_unpadded"] {
        assert_eq!(echo[field], "[redacted]", "{field}: {echo}");
    }
    let pair = format!("svc-user:{password}");
    let encoded = vec![
        STANDARD.encode(&password),
        URL_SAFE_NO_PAD.encode(&password),
        URL_SAFE.encode(&pair),
        STANDARD_NO_PAD.encode(&pair),
    ];
    assert_hidden(&res.body, &encoded, "the invoke answer");

    let (key, _) = e.key_connection("desk", "header").await;
    let res = invoke(&e.api, "desk", json!({"path": "/reencode"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let answer = res.json();
    assert_eq!(answer["headers"]["x-echo-b64"], "[redacted]");
    let echo: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!((&echo["key"], &echo["key_url"]), (&json!("[redacted]"), &json!("[redacted]")), "{echo}");
    assert_hidden(&res.body, &[STANDARD.encode(&key), URL_SAFE_NO_PAD.encode(&key)], "the invoke answer");
}

#[tokio::test]
async fn an_allow_list_entry_naming_a_port_refuses_the_other_ports_of_that_address() {
    let (allowed, other) = (Upstream::start().await, Upstream::start().await);
    let entry = format!("127.0.0.1:{}", allowed.port);
    let app = TestApp::spawn_with(|config| {
        config.outbound_allow_cidrs = Cidr::parse_list(&entry).unwrap();
        config.outbound_allow_http = true;
    })
    .await;
    let api = Api::admin(&app).await;
    let targets = [
        ("allowed_ip", format!("http://127.0.0.1:{}/api", allowed.port), true),
        ("allowed_name", format!("http://localhost:{}/api", allowed.port), true),
        ("other_ip", format!("http://127.0.0.1:{}/api", other.port), false),
        ("other_name", format!("http://localhost:{}/api", other.port), false),
    ];
    for (link, base, _) in &targets {
        api.create("/api/v1/services", &key_service(link, Some(base), "header")).await;
        api.create("/api/v1/connections", &connection(link, link, &[])).await;
        let body = json!({"params": {"X-Api-Key": canary("key"), "X-Org-Id": "org-1"}});
        assert_eq!(api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await.status, 200);
    }
    for (link, _, ok) in &targets {
        let res = invoke(&api, link, json!({"path": "/ping"})).await;
        if *ok {
            assert_eq!(res.status, 200, "{link}: {}", res.body);
        } else {
            assert_eq!(res.status, 422, "{link}: {}", res.body);
            let message = res.json()["errors"]["url"][0].as_str().unwrap().to_owned();
            assert!(message.contains("internal"), "{link}: {message}");
        }
    }
    assert_eq!(allowed.count(), 2);
    assert_eq!(other.count(), 0, "nothing reached the port the allow-list does not name");
}
