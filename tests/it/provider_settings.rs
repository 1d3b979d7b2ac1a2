//! A service's provider differences as settings: through the API and the service form (its
//! collapsed "Advanced" group), validated with a message per field, stored, and shown on the
//! details page.

use serde_json::json;

use crate::support::{Api, Behaviour, Setup, TestApp, oauth_service_at, setup_with};

#[tokio::test]
async fn bad_provider_settings_are_422_with_a_message_per_field_and_store_nothing() {
    let Setup { app: _app, fake, api, .. } = setup_with(|_| {}, Behaviour::default(), |_| {}).await;
    let mut body = oauth_service_at(&fake, "bad_settings");
    body["oauth2"]["token_response"] =
        json!({"access_token": "authed_user..access_token", "scope": "a/b", "expires_in_unit": "minutes"});
    body["oauth2"]["token_request_format"] = "xml".into();
    body["oauth2"]["dead_grant_errors"] = json!(["bad code", "ok_code"]);
    body["oauth2"]["expired_when"] = json!({"path": "$.error", "equals": "token_expired"});
    body["oauth2"]["keep_alive_days"] = 400.into();
    let res = api.post("/api/v1/services", &body).await;
    assert_eq!(res.status, 422, "{}", res.body);
    let errors = &res.json()["errors"];
    for field in [
        "oauth2.token_response.access_token",
        "oauth2.token_response.scope",
        "oauth2.token_response.expires_in_unit",
        "oauth2.token_request_format",
        "oauth2.dead_grant_errors",
        "oauth2.expired_when.path",
        "oauth2.keep_alive_days",
    ] {
        assert!(errors[field].as_array().is_some_and(|m| !m.is_empty()), "{field}: {}", res.body);
    }
    assert!(errors["oauth2.token_response.access_token"][0].as_str().unwrap().contains("dot path"));
    assert_eq!(api.get("/api/v1/services/bad_settings").await.status, 404);

    // Good settings are stored and shown as sent; those left out keep their defaults.
    let mut body = oauth_service_at(&fake, "good_settings");
    body["oauth2"]["token_response"] = json!({"access_token": "authed_user.access_token"});
    body["oauth2"]["dead_grant_errors"] = json!(["refresh_token_expired"]);
    body["oauth2"]["expired_when"] = json!({"path": "error", "equals": "token_expired"});
    body["oauth2"]["keep_alive_days"] = 30.into();
    let shown = api.create("/api/v1/services", &body).await;
    let o = &shown["oauth2"];
    assert_eq!(o["token_response"]["access_token"], "authed_user.access_token");
    assert_eq!(o["token_response"]["refresh_token_expires_in"], "refresh_token_expires_in");
    assert_eq!(o["token_response"]["expires_in_unit"], "seconds");
    assert_eq!((o["pkce"].as_bool(), o["token_request_format"].as_str()), (Some(true), Some("form")));
    assert_eq!(o["dead_grant_errors"], json!(["refresh_token_expired"]));
    assert_eq!(o["expired_when"], json!({"path": "error", "equals": "token_expired"}));
    assert_eq!(o["keep_alive_days"], 30);
}

/// The OAuth2 fields a browser sends for a new service, with the test's own after them.
fn oauth_form(own: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields = vec![
        ("name", "Slack users"),
        ("link_name", "slack_users"),
        ("auth_type", "oauth2"),
        ("grant_type", "authorization_code"),
        ("client_id", "1234.5678"),
        ("client_secret", "form-secret"),
        ("authorization_url", "https://slack.com/oauth/v2/authorize"),
        ("token_url", "https://slack.com/api/oauth.v2.access"),
        ("client_auth", "body"),
        ("scope_delimiter", ","),
        ("token_in", "header"),
        ("token_header_name", "Authorization"),
        ("token_prefix", "Bearer"),
    ];
    fields.extend_from_slice(own);
    fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

async fn submit(app: &TestApp, own: &[(&str, &str)]) -> crate::support::Page {
    let admin = app.admin().await;
    let fields = oauth_form(own);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    admin.submit("/admin/services/new", "/admin/services", &pairs).await
}

#[tokio::test]
async fn the_advanced_group_sets_every_difference_and_the_details_page_shows_them() {
    let app = TestApp::spawn().await;
    let new = app.admin().await.get("/admin/services/new").await;
    assert!(new.body.contains("<details class=\"advanced\">"), "collapsed by default");
    let res = submit(
        &app,
        &[
            ("token_request_format", "json"),
            ("pkce", "off"),
            ("scope_on_refresh", "on"),
            ("response_access_token", "authed_user.access_token"),
            ("response_scope", "authed_user.scope"),
            ("response_refresh_token", ""),
            ("expires_in_unit", "milliseconds"),
            ("dead_grant_errors", "refresh_token_expired, token_gone"),
            ("client_refused_errors", ""),
            ("expired_path", "error"),
            ("expired_equals", "token_expired"),
            ("keep_alive_days", "30"),
        ],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = app.admin().await.get("/admin/services/slack_users").await.body;
    for text in [
        "JSON body; PKCE off; scope also sent on refresh",
        "<code>access_token</code> at <code>authed_user.access_token</code>; <code>scope</code> at \
         <code>authed_user.scope</code>; expiry in milliseconds",
        "reconnect also on <code>refresh_token_expired</code>, <code>token_gone</code>",
        "<code>error</code> equals <code>token_expired</code>",
        "At least every 30 days",
    ] {
        assert!(page.contains(text), "details lack {text:?}");
    }
    let o = &Api::admin(&app).await.get("/api/v1/services/slack_users").await.json()["oauth2"];
    assert_eq!((o["pkce"].as_bool(), o["scope_on_refresh"].as_bool()), (Some(false), Some(true)));
    assert_eq!(o["token_response"]["refresh_token"], "refresh_token", "blank: the standard name");
    assert_eq!(o["keep_alive_days"], 30);

    let edit = app.admin().await.get("/admin/services/slack_users/edit").await.body;
    for shown in [
        "value=\"authed_user.access_token\"",
        "<option value=\"off\" selected>Off",
        "<option value=\"json\" selected>",
        "value=\"refresh_token_expired, token_gone\"",
        "name=\"keep_alive_days\" value=\"30\"",
    ] {
        assert!(edit.contains(shown), "the edit form lacks {shown:?}");
    }
}

#[tokio::test]
async fn bad_differences_on_the_form_are_422_in_the_opened_group_and_store_nothing() {
    let app = TestApp::spawn().await;
    let res = submit(
        &app,
        &[
            ("response_access_token", "authed_user..access_token"),
            ("keep_alive_days", "soon"),
            ("expired_equals", "x"),
        ],
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("<details class=\"advanced\" open>"), "the group opens on its errors");
    assert!(res.body.contains("Write a dot path of field names"), "{}", res.body);
    assert!(res.body.contains("Use 1 to 365 days, or 0 for none."));
    assert!(res.body.contains("Enter the path whose value means the token expired."));
    assert!(res.body.contains("value=\"authed_user..access_token\""), "the typed value comes back");
    assert_eq!(Api::admin(&app).await.get("/api/v1/services/slack_users").await.status, 404);
}
