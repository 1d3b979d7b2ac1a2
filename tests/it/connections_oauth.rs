//! Connecting OAuth2 connections against the fake provider: the consent redirect with PKCE and the
//! callback, the rules on `state` (reuse, expiry, another user or session, concurrency), `iss`,
//! provider errors, client authentication, and the Client Credentials grant.

use connections::db::schema::oauth_flows;
use connections::random::sha256_hex;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::support::{
    Api, Behaviour, Browser, ClientAuth, FakeProvider, Page, Seen, T0, TestApp, assert_hidden, audit,
    connect_href, connection, database_text, flash_of, local, oauth_service_at, row, second_admin, spawn_app,
    text_of,
};

/// An app, a fake provider, the admin's browser and API client, and an OAuth2 service `zoho`
/// with a connection `zoho_main` asking for `read` and `offline_access`.
struct BeforeConsent {
    app: TestApp,
    fake: FakeProvider,
    browser: Browser,
    api: Api,
}

async fn before_consent_with(
    behaviour: Behaviour,
    service: impl FnOnce(&FakeProvider, &mut Value),
) -> BeforeConsent {
    let app = spawn_app().await;
    let fake = FakeProvider::start_with(behaviour).await;
    let api = Api::admin(&app).await;
    let mut body = oauth_service_at(&fake, "zoho");
    service(&fake, &mut body);
    api.create("/api/v1/services", &body).await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_main", &["read", "offline_access"])).await;
    let browser = app.admin().await;
    BeforeConsent { app, fake, browser, api }
}

async fn before_consent() -> BeforeConsent {
    before_consent_with(Behaviour::default(), |_, _| {}).await
}

/// Presses Connect on the details page: the app answers 303 to the provider; returns that URL.
async fn start_consent(browser: &Browser, link: &str) -> String {
    let details = browser.get(&format!("/admin/connections/{link}")).await;
    let res = browser.get(&connect_href(&details)).await;
    assert_eq!(res.status, 303, "connect: {}", res.body);
    res.header("location").to_owned()
}

/// What the provider answers to the consent URL: where it sends the browser back to.
async fn at_provider(url: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302, "the provider redirects back");
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The path and query of the callback URL the provider sent the browser to.
async fn callback_for(browser: &Browser, link: &str) -> String {
    let back = at_provider(&start_consent(browser, link).await).await;
    local(&back)
}

/// The whole consent: Connect, the provider, and the callback's answer.
async fn consent(browser: &Browser, link: &str) -> Page {
    let callback = callback_for(browser, link).await;
    browser.get(&callback).await
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

#[tokio::test]
async fn the_consent_flow_connects_with_pkce_and_stores_the_tokens_sealed_with_the_granted_scopes() {
    let BeforeConsent { app, fake, browser, api } = before_consent().await;
    let seen = Seen::default();
    let details = seen.keep(browser.get("/admin/connections/zoho_main").await);
    let res = seen.keep(browser.get(&connect_href(&details)).await);
    assert_eq!(res.status, 303);
    let to_provider = res.header("location").to_owned();
    assert!(to_provider.starts_with(&fake.authorize_url()), "{to_provider}");
    let q = query(&to_provider);
    let callback_url = format!("{}/integration/oauth/callback", app.base);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], fake.client_id);
    assert_eq!(q["redirect_uri"], callback_url);
    assert_eq!(q["scope"], "read offline_access");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline", "the service's extra parameter");
    assert_eq!((q["state"].len(), q["code_challenge"].len()), (43, 43), "32 random bytes, base64url");
    // The state is kept only as its hash, with the connection, the user and an expiry.
    let state_hash = sha256_hex(&q["state"]);
    let (expires_at, used_at): (i64, Option<i64>) = app
        .state
        .db
        .run(move |c| {
            Ok(oauth_flows::table
                .find(state_hash)
                .select((oauth_flows::expires_at, oauth_flows::used_at))
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!((expires_at, used_at), (T0 + 600, None));

    let back = at_provider(&to_provider).await;
    let callback = local(&back);
    assert!(callback.starts_with("/integration/oauth/callback?code="), "{callback}");
    let done = seen.keep(browser.get(&callback).await);
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.header("location"),
        "/admin/connections/zoho_main",
        "the code and state leave the address bar"
    );
    let page = seen.keep(browser.get("/admin/connections/zoho_main").await);
    let text = text_of(&page);
    assert!(text.contains("“Connection zoho_main” is connected."), "{text}");
    assert!(text.contains("Granted scopes read offline_access"), "{text}");
    assert!(text.contains("Token expiry 2026-09-21 15:13 UTC (refreshed automatically)"), "{text}");

    // Exactly one exchange, with the verifier of the challenge and HTTP Basic client authentication.
    let calls = fake.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].grant_type.as_str(), calls[0].auth), ("authorization_code", "basic"));
    assert_eq!(calls[0].params["redirect_uri"], callback_url);
    assert!(!calls[0].params.contains_key("client_secret"));

    let stored = row(&app, "zoho_main").await;
    assert_eq!(stored.status, "connected");
    assert_eq!(stored.scopes_granted(), Some(vec!["read".to_owned(), "offline_access".to_owned()]));
    assert_eq!(stored.expires_at, Some(T0 + 3600));
    let (access, refresh) = (fake.issued("access"), fake.issued("refresh"));
    assert_eq!(stored.open_access_token(&app.state.keyring).unwrap().unwrap().expose(), access[0]);
    assert_eq!(stored.open_refresh_token(&app.state.keyring).unwrap().unwrap().expose(), refresh[0]);

    let json = seen.keep(api.get("/api/v1/connections/zoho_main").await).json();
    assert_eq!(json["status"], "connected");
    assert_eq!(json["scopes_granted"], json!(["read", "offline_access"]));
    assert_eq!(json["expires_at"], "2026-09-21T15:13:20Z");
    seen.keep(api.get("/api/v1/connections").await);
    seen.keep(browser.get("/admin/connections").await);
    seen.keep(browser.get("/admin/connections/zoho_main/edit").await);
    seen.keep(browser.get("/admin/services/zoho").await);

    let secrets = fake.secrets();
    assert_eq!(secrets.len(), 5, "client secret (twice), access and refresh token, verifier: {secrets:?}");
    assert_hidden(&seen.text(), &secrets, "a response");
    let mut stored_secrets = secrets.clone();
    stored_secrets.push(q["state"].clone());
    assert_hidden(&database_text(&app).await, &stored_secrets, "the database");
    let entries = audit(&app, "connection.connect").await;
    assert_eq!(
        (entries.len(), entries[0].actor.as_str(), entries[0].details.as_str()),
        (1, "admin", r#"{"method":"authorization_code"}"#)
    );
}

#[tokio::test]
async fn scopes_the_provider_did_not_grant_are_flagged_on_the_details_page() {
    let behaviour =
        Behaviour { granted_scope: Some("read".into()), refresh_tokens: false, ..Behaviour::default() };
    let BeforeConsent { app, browser, .. } = before_consent_with(behaviour, |_, _| {}).await;
    assert_eq!(consent(&browser, "zoho_main").await.status, 303);
    let text = text_of(&browser.get("/admin/connections/zoho_main").await);
    assert!(text.contains("Requested scopes read offline_access"), "{text}");
    assert!(
        text.contains("Granted scopes read Not granted: offline_access — without a refresh token"),
        "{text}"
    );
    assert!(text.contains("(no refresh token)"), "{text}");
    let stored = row(&app, "zoho_main").await;
    assert_eq!(
        (stored.scopes_granted(), stored.refresh_token.is_none()),
        (Some(vec!["read".to_owned()]), true)
    );
}

#[tokio::test]
async fn client_authentication_follows_the_service_and_a_refused_client_leaves_the_status_unchanged() {
    let behaviour = Behaviour { client_auth: ClientAuth::Body, ..Behaviour::default() };
    let BeforeConsent { app, fake, browser, api } =
        before_consent_with(behaviour, |_, body| body["oauth2"]["client_auth"] = "body".into()).await;
    assert_eq!(consent(&browser, "zoho_main").await.status, 303);
    assert_eq!(row(&app, "zoho_main").await.status, "connected");
    assert_eq!(fake.token_calls()[0].auth, "body");

    // The same provider, a service with the wrong secret: 401 invalid_client, shown, nothing stored.
    let mut wrong = oauth_service_at(&fake, "zoho_wrong");
    wrong["oauth2"]["client_auth"] = "body".into();
    wrong["oauth2"]["client_secret"] = "not-the-secret".into();
    api.create("/api/v1/services", &wrong).await;
    api.create("/api/v1/connections", &connection("zoho_wrong", "wrong_secret", &["read"])).await;
    let res = consent(&browser, "wrong_secret").await;
    assert_eq!(res.header("location"), "/admin/connections/wrong_secret");
    let text = text_of(&browser.get("/admin/connections/wrong_secret").await);
    assert!(text.contains("The code exchange failed: the provider refused: invalid_client"), "{text}");
    let stored = row(&app, "wrong_secret").await;
    assert_eq!((stored.status.as_str(), stored.access_token.is_none()), ("not_connected", true));
    assert_eq!(fake.token_calls().len(), 2);
}

#[tokio::test]
async fn a_reused_or_unknown_state_is_refused_with_a_clear_page_and_no_second_exchange() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    let callback = callback_for(&browser, "zoho_main").await;
    assert_eq!(browser.get(&callback).await.status, 303);
    let first_token = fake.issued("access")[0].clone();

    let again = browser.get(&callback).await;
    assert_eq!(again.status, 400);
    assert!(text_of(&again).contains(
        "This authorization is unknown or was already completed. Start again from the connection's page."
    ));
    for bad in ["/integration/oauth/callback?code=x&state=made-up", "/integration/oauth/callback?code=x"] {
        let res = browser.get(bad).await;
        assert_eq!(res.status, 400, "{bad}");
        assert!(text_of(&res).contains("unknown or was already completed"), "{bad}");
    }
    assert_eq!(fake.token_count(), 1);
    let stored = row(&app, "zoho_main").await;
    assert_eq!(stored.open_access_token(&app.state.keyring).unwrap().unwrap().expose(), first_token);
}

#[tokio::test]
async fn a_state_older_than_ten_minutes_is_refused_without_a_token_request() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    let late = callback_for(&browser, "zoho_main").await;
    app.clock.advance(10 * 60);
    let res = browser.get(&late).await;
    assert_eq!(res.status, 400);
    assert!(
        text_of(&res).contains("This authorization expired (it must be completed within 10 minutes)."),
        "{}",
        text_of(&res)
    );
    assert_eq!(fake.token_count(), 0);
    assert_eq!(row(&app, "zoho_main").await.status, "not_connected");

    // One second short of the limit is still in time.
    let in_time = callback_for(&browser, "zoho_main").await;
    app.clock.advance(10 * 60 - 1);
    assert_eq!(browser.get(&in_time).await.header("location"), "/admin/connections/zoho_main");
    assert_eq!((fake.token_count(), row(&app, "zoho_main").await.status.as_str()), (1, "connected"));
}

#[tokio::test]
async fn another_users_or_another_sessions_state_is_refused_and_only_its_owner_completes_it() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    let callback = callback_for(&browser, "zoho_main").await;

    let bob = second_admin(&app, "bob").await;
    let res = bob.get(&callback).await;
    assert_eq!(res.status, 403);
    assert!(
        text_of(&res).contains("This authorization was started by another user or in another session."),
        "{}",
        text_of(&res)
    );
    let other_session = app.admin().await;
    assert_eq!(other_session.get(&callback).await.status, 403, "the same user in another session");
    app.add_user("tech", connections::models::user::Role::Technician, "technician-password").await;
    let tech = app.browser();
    assert_eq!(tech.sign_in("tech", "technician-password").await.status, 303);
    assert_eq!(tech.get(&callback).await.status, 403, "a technician");
    let signed_out = app.browser().get(&callback).await;
    assert_eq!(signed_out.status, 303);
    assert!(signed_out.header("location").starts_with("/login?next="));
    assert_eq!(fake.token_count(), 0, "no refusal made a token request");
    assert_eq!(row(&app, "zoho_main").await.status, "not_connected");

    assert_eq!(browser.get(&callback).await.header("location"), "/admin/connections/zoho_main");
    assert_eq!((fake.token_count(), row(&app, "zoho_main").await.status.as_str()), (1, "connected"));
}

#[tokio::test]
async fn two_concurrent_identical_callbacks_exchange_the_code_once() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    for _ in 0..3 {
        let callback = callback_for(&browser, "zoho_main").await;
        let before = fake.token_count();
        let (a, b) = tokio::join!(browser.get(&callback), browser.get(&callback));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [303, 400], "one wins, the other is told the flow is used");
        assert_eq!(fake.token_count(), before + 1, "the code was exchanged once");
    }
    assert_eq!(row(&app, "zoho_main").await.status, "connected");
}

#[tokio::test]
async fn a_wrong_or_missing_iss_is_refused_before_any_token_request() {
    let BeforeConsent { app, fake, browser, .. } = before_consent_with(Behaviour::default(), |fake, body| {
        body["oauth2"]["issuer"] = fake.issuer().into()
    })
    .await;
    for iss in [Some("https://evil.example"), None] {
        fake.set(|b| b.iss = iss.map(str::to_owned));
        let res = consent(&browser, "zoho_main").await;
        assert_eq!(res.header("location"), "/admin/connections/zoho_main", "{iss:?}");
        let text = text_of(&browser.get("/admin/connections/zoho_main").await);
        assert!(
            text.contains(
                "The authorization response came from an unexpected issuer; no token was requested."
            ),
            "{text}"
        );
        assert_eq!(fake.token_count(), 0, "{iss:?}");
        assert_eq!(row(&app, "zoho_main").await.status, "not_connected");
    }
    // RFC 9207 §2.4: an error response is checked too, so a mix-up cannot put another server's text
    // on the page.
    fake.set(|b| {
        b.iss = Some("https://evil.example".into());
        b.deny = Some(("access_denied".into(), "Call +1 555 0100 to restore access".into()));
    });
    consent(&browser, "zoho_main").await;
    let text = text_of(&browser.get("/admin/connections/zoho_main").await);
    assert!(text.contains("unexpected issuer") && !text.contains("555 0100"), "{text}");
    let issuer = fake.issuer();
    fake.set(|b| {
        b.iss = Some(issuer);
        b.deny = None;
    });
    consent(&browser, "zoho_main").await;
    let stored = row(&app, "zoho_main").await;
    assert_eq!((stored.status.as_str(), stored.status_message.as_deref()), ("connected", None));
}

#[tokio::test]
async fn a_provider_error_is_shown_with_its_description_and_the_status_is_unchanged() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    fake.set(|b| b.deny = Some(("access_denied".into(), "The user <b>declined</b> the consent".into())));
    let res = consent(&browser, "zoho_main").await;
    assert_eq!(res.header("location"), "/admin/connections/zoho_main");
    let page = browser.get("/admin/connections/zoho_main").await;
    assert!(
        text_of(&page).contains(
            "The provider did not grant access (access_denied: The user <b>declined</b> the consent)."
        ),
        "{}",
        text_of(&page)
    );
    assert!(!page.body.contains("<b>declined"), "provider text is escaped");
    assert_eq!(row(&app, "zoho_main").await.status, "not_connected");

    // A connected connection stays connected, with its tokens, when a reconnect is refused.
    fake.set(|b| b.deny = None);
    consent(&browser, "zoho_main").await;
    let before = row(&app, "zoho_main").await;
    fake.set(|b| b.deny = Some(("access_denied".into(), "No: +1 retry left, 100%41 sure".into())));
    consent(&browser, "zoho_main").await;
    let page = browser.get("/admin/connections/zoho_main").await;
    assert_eq!(
        flash_of(&page),
        "The provider did not grant access (access_denied: No: +1 retry left, 100%41 sure).",
        "shown as sent"
    );
    let after = row(&app, "zoho_main").await;
    assert_eq!(
        (after.meta.status.as_str(), after.access_token, after.token_version),
        ("connected", before.access_token, before.token_version)
    );
    assert_eq!(fake.token_count(), 1);
}

#[tokio::test]
async fn a_failed_code_exchange_is_shown_and_leaves_the_connection_as_it_was() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    for (error, shown) in [
        (
            (400, "invalid_grant"),
            "The code exchange failed: the provider refused: invalid_grant \
             (the fake provider was told to refuse)",
        ),
        (
            (500, ""),
            "The code exchange failed: the provider could not be reached or failed: \
             the token endpoint answered HTTP 500",
        ),
    ] {
        fake.set(|b| b.token_error = Some(error));
        consent(&browser, "zoho_main").await;
        let text = text_of(&browser.get("/admin/connections/zoho_main").await);
        assert!(text.contains(shown), "{text}");
        let stored = row(&app, "zoho_main").await;
        assert_eq!((stored.status.as_str(), stored.access_token.is_none()), ("not_connected", true));
    }
    assert_eq!(fake.token_count(), 2);
    fake.set(|b| b.token_error = None);
    consent(&browser, "zoho_main").await;
    let stored = row(&app, "zoho_main").await;
    assert_eq!(
        (stored.meta.status.as_str(), stored.meta.status_message),
        ("connected", None),
        "a success clears the message"
    );
}

#[tokio::test]
async fn the_connect_link_needs_a_single_use_nonce_and_starts_no_flow_without_it() {
    let BeforeConsent { app, fake, browser, .. } = before_consent().await;
    let csrf = browser.get("/admin/connections").await.csrf();
    for path in [
        "/admin/connections/zoho_main/connect?nonce=forged".to_owned(),
        format!("/admin/connections/zoho_main/connect?nonce=9999999999.{csrf}"),
        format!("/admin/connections/zoho_main/connect?csrf_token={csrf}&nonce="),
    ] {
        let res = browser.get(&path).await;
        assert_eq!(res.status, 403, "{path}");
    }
    // Without one (a list row's link), a page says where the browser goes, and links there with one.
    let page = browser.get("/admin/connections/zoho_main/connect").await;
    assert_eq!(page.status, 200);
    assert!(text_of(&page).contains(&format!("Your browser goes to {}", fake.url)), "{}", text_of(&page));
    let flows: i64 = app.state.db.run(|c| Ok(oauth_flows::table.count().get_result(c)?)).await.unwrap();
    assert_eq!((flows, fake.authorize_calls().len()), (0, 0));
    let link = connect_href(&page);
    assert!(link.starts_with("/admin/connections/zoho_main/connect?nonce="), "{link}");
    assert!(!link.contains(&csrf), "the CSRF token stays out of URLs");
    assert_eq!(browser.get(&link).await.status, 303);
    assert_eq!(browser.get(&link).await.status, 403, "a nonce is spent on use");
    let flows: i64 = app.state.db.run(|c| Ok(oauth_flows::table.count().get_result(c)?)).await.unwrap();
    assert_eq!(flows, 1);
}

#[tokio::test]
async fn a_connect_nonce_expires_and_belongs_to_one_session_and_one_connection() {
    let BeforeConsent { app, browser, api, .. } = before_consent().await;
    api.create("/api/v1/connections", &connection("zoho", "zoho_other", &["read"])).await;
    let link = connect_href(&browser.get("/admin/connections/zoho_main").await);
    let elsewhere = link.replace("zoho_main", "zoho_other");
    assert_eq!(browser.get(&elsewhere).await.status, 403, "another connection");
    let other_session = app.admin().await;
    assert_eq!(other_session.get(&link).await.status, 403, "another session");
    // An hour later (the session kept alive meanwhile), the link is refused.
    app.clock.advance(1800);
    assert_eq!(browser.get("/admin/connections").await.status, 200);
    app.clock.advance(1801);
    assert_eq!(browser.get(&link).await.status, 403, "an hour later");
}

#[tokio::test]
async fn the_api_hands_out_a_consent_url_that_the_token_owners_browser_completes() {
    let BeforeConsent { app, fake, browser, api } = before_consent().await;
    let res = api.post("/api/v1/connections/zoho_main/authorize", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["expires_in"], 600);
    let url = body["authorization_url"].as_str().unwrap();
    assert!(url.starts_with(&fake.authorize_url()));
    let callback = local(&at_provider(url).await);

    let bob = second_admin(&app, "bob").await;
    assert_eq!(bob.get(&callback).await.status, 403);
    assert_eq!(browser.get(&callback).await.header("location"), "/admin/connections/zoho_main");
    assert_eq!(api.get("/api/v1/connections/zoho_main").await.json()["status"], "connected");
    assert_eq!(fake.token_count(), 1);
}

#[tokio::test]
async fn a_client_credentials_connection_makes_the_token_request_at_once() {
    let app = spawn_app().await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    let mut service = oauth_service_at(&fake, "machine");
    service["oauth2"]["grant_type"] = "client_credentials".into();
    service["oauth2"].as_object_mut().unwrap().remove("authorization_url");
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection("machine", "machine_main", &["read", "write"])).await;
    let browser = app.admin().await;
    let seen = Seen::default();

    let details = seen.keep(browser.get("/admin/connections/machine_main").await);
    let res = seen.keep(browser.get(&connect_href(&details)).await);
    assert_eq!(res.header("location"), "/admin/connections/machine_main");
    assert!(
        text_of(&seen.keep(browser.get("/admin/connections/machine_main").await))
            .contains("Connected: a token was obtained.")
    );
    let calls = fake.token_calls();
    assert_eq!(calls.len(), 1, "no consent, one token request");
    assert_eq!(
        (calls[0].grant_type.as_str(), calls[0].params["scope"].as_str(), calls[0].auth),
        ("client_credentials", "read write", "basic")
    );
    assert!(fake.authorize_calls().is_empty());
    let stored = row(&app, "machine_main").await;
    assert_eq!(stored.status, "connected");
    assert_eq!(
        stored.open_access_token(&app.state.keyring).unwrap().unwrap().expose(),
        fake.issued("access")[0]
    );

    // Through the API, "authorize" connects at once too; a refusal is a 409 and a message.
    let res = seen.keep(api.post("/api/v1/connections/machine_main/authorize", &json!({})).await);
    assert_eq!((res.status, res.json()["status"].as_str()), (200, Some("connected")));
    assert_eq!(fake.token_count(), 2);
    fake.set(|b| b.token_error = Some((401, "invalid_client")));
    let res = seen.keep(api.post("/api/v1/connections/machine_main/authorize", &json!({})).await);
    assert_eq!(res.status, 409);
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The token request failed: the provider refused: invalid_client")
    );
    let details = seen.keep(browser.get("/admin/connections/machine_main").await);
    let res = seen.keep(browser.get(&connect_href(&details)).await);
    assert_eq!(res.header("location"), "/admin/connections/machine_main");
    assert!(
        text_of(&seen.keep(browser.get("/admin/connections/machine_main").await))
            .contains("The token request failed")
    );
    assert_hidden(&seen.text(), &fake.secrets(), "a response");
    assert_hidden(&database_text(&app).await, &fake.secrets(), "the database");
}

#[tokio::test]
async fn create_and_connect_goes_on_to_the_provider_and_the_forms_csp_lets_it() {
    let app = spawn_app().await;
    let fake = FakeProvider::start().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &oauth_service_at(&fake, "zoho")).await;
    let browser = app.admin().await;
    let form = browser.get("/admin/connections/new?service=zoho").await;
    let csp = form.header("content-security-policy").to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {}", fake.url)),
        "Chromium checks form-action on the redirect chain: {csp}"
    );
    let fields = [
        ("service", "zoho"),
        ("name", "Zoho"),
        ("link_name", "zoho_new"),
        ("scope", "read"),
        ("action", "connect"),
    ];
    let created = browser.submit("/admin/connections/new?service=zoho", "/admin/connections", &fields).await;
    let to_connect = created.header("location").to_owned();
    assert!(to_connect.starts_with("/admin/connections/zoho_new/connect?nonce="), "{to_connect}");
    let to_provider = browser.get(&to_connect).await;
    assert!(to_provider.header("location").starts_with(&fake.authorize_url()));
    let back = local(&at_provider(to_provider.header("location")).await);
    assert_eq!(browser.get(&back).await.header("location"), "/admin/connections/zoho_new");
    assert_eq!(row(&app, "zoho_new").await.status, "connected");
    // The edit form's "Save and Reconnect" takes the same path.
    let edit = browser.get("/admin/connections/zoho_new/edit").await;
    assert!(edit.header("content-security-policy").contains(&fake.url));
}
