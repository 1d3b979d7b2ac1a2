//! The OAuth behaviours real providers need, against the fake answering as each one documents (see
//! `support::fake_provider::Style` for the documentation each shape follows): nested token answers
//! (Slack), refusals on HTTP 200 (GitHub, Slack), a `status` code without `error` (HubSpot), an error
//! object (Facebook), form-encoded answers under another content type, a JSON token request
//! (Notion), PKCE off, scope on refresh, answers too large, too deep or not parseable, and QuickBooks'
//! refresh token lifetime under its own name.

use serde_json::{Value, json};

use connections::clock::{format_time, rfc3339};

use crate::support::{
    Api, Behaviour, FakeProvider, Setup, Style, T0, TestApp, access_token, connect_oauth, connection, invoke,
    loopback, me, row, setup_with, text_of,
};

/// A Slack user-token service: the user token sits under `authed_user`; scopes are comma-separated.
fn slack(body: &mut Value) {
    body["oauth2"]["scope_delimiter"] = ",".into();
    body["oauth2"]["token_response"] = json!({
        "access_token": "authed_user.access_token",
        "refresh_token": "authed_user.refresh_token",
        "expires_in": "authed_user.expires_in",
        "scope": "authed_user.scope",
    });
}

fn github(_: &mut Value) {}

async fn setup_as(style: Style, service: fn(&mut Value)) -> Setup {
    setup_with(|_| {}, Behaviour { style, ..Behaviour::default() }, service).await
}

async fn needs_reconnect(api: &Api, says: &str) {
    let res = me(api).await;
    assert_eq!(
        (res.status, res.json()["error"]["status"].as_str()),
        (409, Some("needs_reconnect")),
        "{}",
        res.body
    );
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains(says) && message.contains("reconnect"), "{message}");
}

/// Connect, invoke, two refreshes, then a revoked refresh token: Needs reconnect.
async fn lifecycle(style: Style, service: fn(&mut Value), dead_code: &str) {
    let Setup { app, fake, api, .. } = setup_as(style, service).await;
    let user_token = fake.issued("access")[0].clone();
    assert_eq!(access_token(&app, "zoho_main").await.as_deref(), Some(user_token.as_str()), "{style:?}");
    assert_eq!(row(&app, "zoho_main").await.expires_at.map(|e| e - app.clock.now()), Some(3600));
    assert_eq!(me(&api).await.json()["status"], 200, "{style:?}");
    for n in 1..=2 {
        app.clock.advance(3600);
        let res = me(&api).await;
        assert_eq!(res.json()["status"], 200, "{style:?}: {}", res.body);
        assert_eq!(fake.grants("refresh_token").len(), n, "{style:?}");
        let fresh = fake.issued("access")[n].clone();
        assert_eq!(access_token(&app, "zoho_main").await, Some(fresh), "{style:?}");
    }
    let stored = crate::support::refresh_token(&app, "zoho_main").await.unwrap();
    fake.kill(&stored);
    app.clock.advance(3600);
    needs_reconnect(&api, dead_code).await;
    let stored = row(&app, "zoho_main").await;
    assert!(stored.access_token.is_none() && stored.refresh_token.is_none(), "{style:?}: tokens cleared");
}

/// A bad client secret flags the service and keeps the tokens; so does a provider 5xx.
async fn refusals(style: Style, service: fn(&mut Value)) {
    let Setup { app, fake, api, browser } = setup_as(style, service).await;
    let before = row(&app, "zoho_main").await.access_token;
    let wrong = json!({"oauth2": {"client_secret": "not-the-secret"}});
    assert_eq!(api.patch("/api/v1/services/zoho", &wrong).await.status, 200);
    app.clock.advance(3600);
    let res = me(&api).await;
    assert_eq!(res.status, 503, "{style:?}: {}", res.body);
    assert!(res.body.contains("refused the client credentials of the service"), "{style:?}: {}", res.body);
    let page = text_of(&browser.get("/admin/services/zoho").await);
    assert!(page.contains("The provider refused the client credentials"), "{style:?}");
    assert_eq!(row(&app, "zoho_main").await.status, "connected");

    let right = json!({"oauth2": {"client_secret": fake.client_secret}});
    assert_eq!(api.patch("/api/v1/services/zoho", &right).await.status, 200);
    fake.set(|b| b.token_error = Some((500, "")));
    let res = me(&api).await;
    assert_eq!(res.status, 503, "{style:?}: {}", res.body);
    assert!(res.body.contains("HTTP 500"), "{style:?}: {}", res.body);
    let stored = row(&app, "zoho_main").await;
    assert_eq!(
        (stored.status.as_str(), stored.access_token),
        ("connected", before),
        "{style:?}: tokens kept"
    );

    fake.set(|b| b.token_error = None);
    app.clock.advance(5);
    assert_eq!(me(&api).await.json()["status"], 200, "{style:?}: the provider is back");
}

#[tokio::test]
async fn a_slack_user_token_nested_in_the_answer_connects_refreshes_and_dies_as_slack_says() {
    lifecycle(Style::Slack, slack, "invalid_refresh_token").await;
}

#[tokio::test]
async fn slacks_refusals_on_http_200_reach_the_refused_client_and_passing_classes() {
    refusals(Style::Slack, slack).await;
}

#[tokio::test]
async fn a_github_refresh_refused_on_http_200_means_needs_reconnect() {
    lifecycle(Style::GitHub, github, "bad_refresh_token").await;
}

#[tokio::test]
async fn githubs_bad_client_on_http_200_flags_the_service_and_its_5xx_passes() {
    refusals(Style::GitHub, github).await;
}

#[tokio::test]
async fn hubspots_status_and_facebooks_error_object_reach_needs_reconnect() {
    for (style, says) in [(Style::HubSpot, "BAD_REFRESH_TOKEN"), (Style::Facebook, "190")] {
        let Setup { app, fake, api, .. } = setup_as(style, github).await;
        fake.kill(&crate::support::refresh_token(&app, "zoho_main").await.unwrap());
        app.clock.advance(3600);
        needs_reconnect(&api, says).await;
    }
}

#[tokio::test]
async fn a_form_encoded_answer_under_text_plain_is_read_and_its_refresh_token_expiry_too() {
    let behaviour = Behaviour {
        style: Style::GitHub,
        form_answers: true,
        refresh_token_expires_in: Some(15_897_600),
        ..Behaviour::default()
    };
    let Setup { app, fake, api, .. } = setup_with(|_| {}, behaviour, github).await;
    assert_eq!(access_token(&app, "zoho_main").await, Some(fake.issued("access")[0].clone()));
    assert_eq!(me(&api).await.json()["status"], 200);
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"], 200);
    assert_eq!(fake.grants("refresh_token").len(), 1);
}

#[tokio::test]
async fn a_json_token_request_reaches_the_provider_as_json_with_basic_authentication() {
    let Setup { app, fake, api, .. } = setup_with(
        |_| {},
        Behaviour::default(),
        |s| {
            s["oauth2"]["token_request_format"] = "json".into();
        },
    )
    .await;
    app.clock.advance(3600);
    assert_eq!(me(&api).await.json()["status"], 200);
    let calls = fake.token_calls();
    assert_eq!(
        calls.iter().map(|c| (c.grant_type.as_str(), c.format, c.auth)).collect::<Vec<_>>(),
        [("authorization_code", "json", "basic"), ("refresh_token", "json", "basic")]
    );
    assert!(calls[0].params.contains_key("code_verifier") && calls[0].params.contains_key("redirect_uri"));
}

#[tokio::test]
async fn with_pkce_off_no_challenge_or_verifier_is_sent() {
    let behaviour = Behaviour { require_pkce: false, ..Behaviour::default() };
    let Setup { app: _app, fake, api, .. } =
        setup_with(|_| {}, behaviour, |s| s["oauth2"]["pkce"] = false.into()).await;
    let authorize = &fake.authorize_calls()[0];
    assert!(authorize.contains_key("state") && !authorize.contains_key("code_challenge"), "{authorize:?}");
    assert!(!authorize.contains_key("code_challenge_method"));
    assert!(!fake.token_calls()[0].params.contains_key("code_verifier"));
    let res = me(&api).await;
    assert_eq!(res.json()["status"], 200, "{}", res.body);
    let shown = api.get("/api/v1/services/zoho").await.json();
    assert_eq!(shown["oauth2"]["pkce"], false);
}

#[tokio::test]
async fn scope_is_sent_on_refresh_only_when_the_service_asks_for_it() {
    for (asks, expected) in [(false, None), (true, Some("read offline_access"))] {
        let Setup { app, fake, api, .. } =
            setup_with(|_| {}, Behaviour::default(), |s| s["oauth2"]["scope_on_refresh"] = asks.into()).await;
        app.clock.advance(3600);
        assert_eq!(me(&api).await.json()["status"], 200);
        let refresh = &fake.grants("refresh_token")[0];
        assert_eq!(refresh.params.get("scope").map(String::as_str), expected);
    }
}

/// Token answers no one should store: each a clear failure that keeps the tokens there were.
#[tokio::test]
async fn huge_deep_or_unparseable_token_answers_are_clear_failures_that_store_nothing() {
    let huge = format!(r#"{{"access_token":"canary-huge","pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let deep = format!(r#"{{"access_token":"canary-deep","x":{}1{}}}"#, "[".repeat(100), "]".repeat(100));
    let answers: [(&'static str, Vec<u8>, &str); 4] = [
        ("application/json", huge.into_bytes(), "more than the 1024 KiB"),
        ("application/json", deep.into_bytes(), "nested deeper than 16 levels"),
        ("text/html", b"<html><body>Sign in</body></html>".to_vec(), "neither a JSON object"),
        ("application/json", b"{\"access_token\": \"canary-cut".to_vec(), "neither a JSON object"),
    ];
    for (content_type, body, says) in answers {
        let Setup { app, fake, api, browser } = setup_with(|_| {}, Behaviour::default(), |_| {}).await;
        let before = (
            row(&app, "zoho_main").await.access_token,
            crate::support::refresh_token(&app, "zoho_main").await,
        );
        fake.set(|b| b.raw_token_answer = Some((200, content_type, body.clone())));
        app.clock.advance(3600);
        let res = me(&api).await;
        assert_eq!(res.status, 503, "{says}: {}", res.body);
        assert!(res.body.contains(says) && res.body.contains("nothing was stored"), "{says}: {}", res.body);
        let stored = row(&app, "zoho_main").await;
        assert_eq!(stored.status, "connected");
        assert_eq!((stored.access_token, crate::support::refresh_token(&app, "zoho_main").await), before);

        // A connect whose code exchange gets such an answer leaves the connection unconnected.
        api.create("/api/v1/connections", &connection("zoho", "zoho_new", &["read"])).await;
        connect_oauth(&browser, "zoho_new").await;
        let shown = api.get("/api/v1/connections/zoho_new").await.json();
        assert_eq!(shown["status"], "not_connected", "{says}");
        assert!(shown["last_error"].as_str().unwrap().contains(says), "{says}: {shown}");
        assert!(row(&app, "zoho_new").await.access_token.is_none());
    }
}

#[tokio::test]
async fn an_answer_matching_the_expiry_signal_refreshes_exactly_once_and_retries_once() {
    // Slack answers a dead token on HTTP 200 (https://api.slack.com/authentication/rotation).
    let expired = (200, json!({"ok": false, "error": "token_expired"}));
    let behaviour =
        Behaviour { style: Style::Slack, api_expired_answer: Some(expired), ..Behaviour::default() };
    let signal = |s: &mut Value| {
        slack(s);
        s["oauth2"]["expired_when"] = json!({"path": "error", "equals": "token_expired"});
    };
    let Setup { app, fake, api, .. } = setup_with(|_| {}, behaviour.clone(), signal).await;
    fake.kill(&access_token(&app, "zoho_main").await.unwrap());
    let res = me(&api).await;
    assert_eq!(
        (res.json()["status"].as_u64(), fake.grants("refresh_token").len()),
        (Some(200), 1),
        "{}",
        res.body
    );
    assert!(res.json()["body"].as_str().unwrap().contains("\"ok\":true"), "{}", res.body);
    let calls = fake.api_calls();
    assert_eq!(calls.iter().map(|c| c.accepted).collect::<Vec<_>>(), [false, true]);

    // An API that keeps saying so: still one refresh and one retry, then its answer.
    fake.set(|b| b.api_accepts = false);
    let res = me(&api).await;
    assert!(res.json()["body"].as_str().unwrap().contains("token_expired"), "{}", res.body);
    assert_eq!((fake.grants("refresh_token").len(), fake.api_calls().len()), (2, 4));

    // Without the signal, the same answer is the upstream's answer: no refresh.
    let Setup { app, fake, api, .. } = setup_with(|_| {}, behaviour, slack).await;
    fake.kill(&access_token(&app, "zoho_main").await.unwrap());
    let res = me(&api).await;
    assert!(res.json()["body"].as_str().unwrap().contains("token_expired"), "{}", res.body);
    assert_eq!((fake.grants("refresh_token").len(), fake.api_calls().len()), (0, 1));
}

/// QuickBooks Online answers the refresh token's lifetime as `x_refresh_token_expires_in` beside
/// `expires_in`, to the code exchange and to every refresh
/// (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0);
/// its template reads the refresh token expiry there. The fake sends no `refresh_token_expires_in`,
/// so nothing is kept without the template's path.
#[tokio::test]
async fn a_quickbooks_refresh_token_lifetime_is_kept_shown_and_a_short_one_asks_for_a_reconnect() {
    const DAY: i64 = 86_400;
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start_with(Behaviour {
        callback_params: vec![("realmId".into(), "9130350".into())],
        token_fields: json!({"x_refresh_token_expires_in": 8_726_400}),
        ..Behaviour::default()
    })
    .await;
    let api = Api::admin(&app).await;
    let mut service = api.get("/api/v1/templates/quickbooks_online").await.json()["service"].clone();
    assert_eq!(service["oauth2"]["token_response"]["refresh_token_expires_in"], "x_refresh_token_expires_in");
    service["template"] = "quickbooks_online".into();
    service["api_base_url"] = format!("{}/api/v3/company/{{realm_id}}", fake.url).into();
    let o = &mut service["oauth2"];
    o["client_id"] = fake.client_id.clone().into();
    o["client_secret"] = fake.client_secret.clone().into();
    o["authorization_url"] = fake.authorize_url().into();
    o["token_url"] = fake.token_url().into();
    api.create("/api/v1/services", &service).await;
    let books = connection("quickbooks_online", "books", &["com.intuit.quickbooks.accounting"]);
    api.create("/api/v1/connections", &books).await;
    let admin = app.admin().await;
    connect_oauth(&admin, "books").await;

    let got = api.get("/api/v1/connections/books").await.json();
    assert_eq!(got["refresh_token_expires_at"], rfc3339(T0 + 8_726_400), "{got}");
    assert_eq!(got["reconnect_soon"], false);
    let page = text_of(&admin.get("/admin/connections/books").await);
    assert!(page.contains(&format!("Refresh token expiry {}", format_time(T0 + 8_726_400))), "{page}");
    assert!(!page.contains("Reconnect soon"), "{page}");

    // A refresh answer's lifetime replaces the kept one: three days left is "Reconnect soon".
    fake.set(|b| b.token_fields = json!({"x_refresh_token_expires_in": 3 * DAY}));
    app.clock.advance(3600);
    let res = invoke(&api, "books", json!({"path": "/preferences"})).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    assert_eq!(fake.grants("refresh_token").len(), 1);
    let got = api.get("/api/v1/connections/books").await.json();
    assert_eq!(got["refresh_token_expires_at"], rfc3339(T0 + 3600 + 3 * DAY), "{got}");
    assert_eq!(got["reconnect_soon"], true);
    let page = text_of(&admin.get("/admin/connections/books").await);
    assert!(page.contains("Reconnect soon Refresh token expires in 3 days — reconnect"), "{page}");
    let list = text_of(&admin.get("/admin/connections").await);
    assert!(list.contains("Reconnect soon Refresh token expires in 3 days — reconnect"), "{list}");
}
