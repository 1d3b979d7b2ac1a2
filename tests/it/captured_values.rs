//! Values the provider returns at connect time, end to end, with fakes that answer as each provider
//! documents: QuickBooks' `realmId` in the callback, Zoho's `accounts-server`, `location` and
//! `api_domain`, Salesforce's `instance_url`, Slack's `team.id`. Services start from the catalogue's
//! templates with their URLs moved to the loopback fake (an admin may change any field); the fake's
//! second loopback port stands for a provider's other data centre, and a second fake for a host an
//! attacker names. Nothing is sent to any other host.

use serde_json::{Value, json};

use crate::support::{
    Api, Behaviour, ClientAuth, FakeProvider, Style, TestApp, access_token, connect_oauth, connection,
    invoke, loopback, text_of,
};

/// A catalogue template's service with the fake's client and the given fields replaced.
async fn from_template(api: &Api, id: &str, fake: &FakeProvider, fields: &[(&str, Value)]) -> Value {
    let template = api.get(&format!("/api/v1/templates/{id}")).await.json();
    let mut service = template["service"].clone();
    service["template"] = id.into();
    service["oauth2"]["client_id"] = fake.client_id.clone().into();
    service["oauth2"]["client_secret"] = fake.client_secret.clone().into();
    for (path, value) in fields {
        let mut at = &mut service;
        for part in path.split('.') {
            at = match part.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[part],
            };
        }
        *at = value.clone();
    }
    service
}

async fn start(behaviour: Behaviour) -> (TestApp, FakeProvider, Api) {
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start_with(behaviour).await;
    let api = Api::admin(&app).await;
    (app, fake, api)
}

/// Creates connection `link` of `service` and goes through the fake's consent.
async fn connect(app: &TestApp, api: &Api, service: &str, link: &str, scopes: &[&str]) -> Value {
    api.create("/api/v1/connections", &connection(service, link, scopes)).await;
    connect_oauth(&app.admin().await, link).await;
    api.get(&format!("/api/v1/connections/{link}")).await.json()
}

/// QuickBooks: "the redirect includes … realmId, the company ID"
/// (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0),
/// and every Accounting API path starts with /v3/company/{realmId}.
#[tokio::test]
async fn the_quickbooks_company_from_the_callback_is_kept_shown_and_used_in_the_api_base_url() {
    let behaviour =
        Behaviour { callback_params: vec![("realmId".into(), "9130350".into())], ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let fields = [
        ("oauth2.authorization_url", fake.authorize_url().into()),
        ("oauth2.token_url", fake.token_url().into()),
        ("api_base_url", format!("{}/api/v3/company/{{realm_id}}", fake.url).into()),
    ];
    api.create("/api/v1/services", &from_template(&api, "quickbooks_online", &fake, &fields).await).await;
    let created =
        connect(&app, &api, "quickbooks_online", "books", &["com.intuit.quickbooks.accounting"]).await;
    assert_eq!(created["status"], "connected", "{created}");
    assert_eq!(created["captured"], json!({"realm_id": "9130350"}));

    let res = invoke(&api, "books", json!({"path": "/companyinfo/9130350"})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(fake.api_calls().last().unwrap().path, "/api/v3/company/9130350/companyinfo/9130350");
    let test = api.post("/api/v1/connections/books/test", &json!({})).await;
    assert_eq!(test.json()["ok"], true, "{}", test.body);
    assert_eq!(fake.api_calls().last().unwrap().path, "/api/v3/company/9130350/preferences");
    // Another company's API is outside the connection's base.
    let other = format!("{}/api/v3/company/1111111/companyinfo/1111111", fake.url);
    assert_eq!(invoke(&api, "books", json!({"url": other})).await.status, 422);
    assert!(!fake.requests().iter().any(|r| r.contains("1111111")));

    let page = text_of(&app.admin().await.get("/admin/connections/books").await);
    let section = page.split("From the provider").nth(1).expect("the section");
    assert!(section.contains("Company ID (realmId) 9130350 {realm_id}"), "{section}");
    assert!(section.contains(&format!("{}/api/v3/company/9130350", fake.url)), "{section}");
}

/// A Zoho service at the fake: consent at `url` (accounts.zoho.com), the EU data centre at
/// `other_url`, which the allow-lists name beside the US one. Zoho authenticates the client in the
/// body (https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token.html).
async fn zoho_crm(api: &Api, fake: &FakeProvider) {
    let (us, eu) = (fake.url.clone(), fake.other_url.clone());
    let fields = [
        ("oauth2.authorization_url", fake.authorize_url().into()),
        ("oauth2.token_url", "{accounts_server}/token".into()),
        ("oauth2.revoke_url", "{accounts_server}/revoke".into()),
        ("oauth2.captured_values.0.allowed", json!([us, eu])),
        ("oauth2.captured_values.2.allowed", json!([us, eu])),
        ("api_base_url", "{api_domain}/api".into()),
        ("test_request", Value::Null),
    ];
    api.create("/api/v1/services", &from_template(api, "zoho_crm", fake, &fields).await).await;
}

/// Zoho multi-DC (https://www.zoho.com/accounts/protocol/oauth/multi-dc.html,
/// https://www.zoho.com/crm/developer/docs/api/multi-dc.html): the consent starts at
/// accounts.zoho.com, the redirect carries `location=eu&accounts-server=https://accounts.zoho.eu`,
/// the code is exchanged at that accounts server, and the token answer's `api_domain` is where the
/// API calls go.
#[tokio::test]
async fn a_zoho_eu_account_exchanges_refreshes_and_calls_the_api_in_its_own_data_centre() {
    let behaviour = Behaviour { client_auth: ClientAuth::Body, ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let eu = fake.other_url.clone();
    fake.set(|b| {
        b.callback_params = vec![("location".into(), "eu".into()), ("accounts-server".into(), eu.clone())];
        b.token_fields = json!({"api_domain": eu});
    });
    zoho_crm(&api, &fake).await;
    let created = connect(&app, &api, "zoho_crm", "zoho_eu", &["ZohoCRM.modules.ALL"]).await;
    assert_eq!(created["captured"], json!({"accounts_server": eu, "location": "eu", "api_domain": eu}));
    assert_eq!(fake.requests_at(&fake.url), ["GET /authorize"], "consent only, at the US server");
    assert_eq!(fake.requests_at(&eu), ["POST /token"], "the code went to the EU accounts server");
    assert_eq!(fake.grants("authorization_code")[0].auth, "body");

    assert_eq!(invoke(&api, "zoho_eu", json!({"path": "/me"})).await.status, 200);
    assert_eq!(fake.requests_at(&eu).last().unwrap(), "GET /api/me");

    // The refresh goes to the EU accounts server too; a refresh answer's api_domain replaces the kept
    // one when the allow-list has it, and is ignored when it does not.
    fake.set(|b| b.token_fields = json!({"api_domain": fake.url}));
    app.clock.advance(3600);
    assert_eq!(invoke(&api, "zoho_eu", json!({"path": "/me"})).await.status, 200);
    assert_eq!(fake.grants("refresh_token").len(), 1);
    assert_eq!(fake.requests_at(&eu).iter().filter(|r| *r == "POST /token").count(), 2);
    assert!(!fake.requests_at(&fake.url).iter().any(|r| r.starts_with("POST")), "{:?}", fake.requests());
    let now = api.get("/api/v1/connections/zoho_eu").await.json();
    assert_eq!(now["captured"]["api_domain"], fake.url, "taken from the refresh");
    assert_eq!(invoke(&api, "zoho_eu", json!({"path": "/me"})).await.status, 200);
    assert_eq!(fake.requests_at(&fake.url).last().unwrap(), "GET /api/me", "and used from the next call");
    let hostile = FakeProvider::start().await;
    fake.set(|b| b.token_fields = json!({"api_domain": hostile.url}));
    app.clock.advance(3600);
    assert_eq!(invoke(&api, "zoho_eu", json!({"path": "/me"})).await.status, 200);
    assert_eq!(api.get("/api/v1/connections/zoho_eu").await.json()["captured"]["api_domain"], fake.url);
    assert!(hostile.requests().is_empty());

    let res = api.post("/api/v1/connections/zoho_eu/revoke", &json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(fake.requests_at(&eu).iter().any(|r| r == "POST /revoke"));
    assert!(!fake.requests_at(&fake.url).iter().any(|r| r == "POST /revoke"));
}

/// The template's service with one data centre's origins moved to `to` (the fake's second origin)
/// and every other entry of its allow-lists as shipped; a keyed entry (`uk => https://desk.zoho.uk`)
/// keeps its key. Each of `origins` must be in the template once, or that data centre could not
/// connect.
fn one_data_centre_at(service: &mut Value, origins: &[&str], to: &str) {
    for origin in origins {
        let mut found = 0;
        for cap in service["oauth2"]["captured_values"].as_array_mut().unwrap() {
            for entry in cap["allowed"].as_array_mut().into_iter().flatten() {
                let text = entry.as_str().unwrap();
                let (key, named) = text.split_once(" => ").map_or((None, text), |(k, o)| (Some(k), o));
                if named == *origin {
                    *entry = key.map_or_else(|| to.to_owned(), |k| format!("{k} => {to}")).into();
                    found += 1;
                }
            }
        }
        assert_eq!(found, 1, "{origin} in {}", service["link_name"]);
    }
}

/// Zoho's data centres beyond the US and the EU, each through the template's own allow-lists.
/// Zoho documents the accounts servers accounts.zohocloud.ca, accounts.zoho.sa and accounts.zoho.uk
/// and the redirect's `location` and `accounts-server`
/// (https://www.zoho.com/accounts/protocol/oauth/multi-dc.html), and the API domains
/// www.zohoapis.ca and www.zohoapis.sa (https://www.bigin.com/developer/docs/apis/multi-dc.html);
/// the United Kingdom's www.zohoapis.uk and the Zoho Desk servers of these three data centres follow
/// Zoho's per-data-centre domains (no Zoho page lists them). The code is exchanged at the returned
/// accounts server and the API called in that data centre, all at the fake's second loopback origin.
#[tokio::test]
async fn accounts_in_canada_saudi_arabia_and_the_uk_connect_and_call_their_own_data_centre() {
    let behaviour = Behaviour { client_auth: ClientAuth::Body, ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let dc = fake.other_url.clone();
    let cases = [
        ("zoho_crm", "ca", ["https://accounts.zohocloud.ca", "https://www.zohoapis.ca"], "api_domain"),
        ("zoho_crm", "uk", ["https://accounts.zoho.uk", "https://www.zohoapis.uk"], "api_domain"),
        ("zoho_desk", "ca", ["https://accounts.zohocloud.ca", "https://desk.zohocloud.ca"], "desk_origin"),
        ("zoho_desk", "sa", ["https://accounts.zoho.sa", "https://desk.zoho.sa"], "desk_origin"),
        ("zoho_desk", "uk", ["https://accounts.zoho.uk", "https://desk.zoho.uk"], "desk_origin"),
    ];
    for (template, location, origins, api_origin) in cases {
        let (service, link) = (format!("{template}_{location}"), format!("{template}_{location}_account"));
        let mut fields = vec![
            ("link_name", service.clone().into()),
            ("name", format!("{template} {location}").into()),
            ("oauth2.authorization_url", fake.authorize_url().into()),
            ("oauth2.token_url", "{accounts_server}/token".into()),
            ("oauth2.revoke_url", "{accounts_server}/revoke".into()),
        ];
        if template == "zoho_crm" {
            fields.push(("api_base_url", "{api_domain}/api".into()));
        }
        let mut body = from_template(&api, template, &fake, &fields).await;
        one_data_centre_at(&mut body, &origins, &dc);
        api.create("/api/v1/services", &body).await;
        fake.set(|b| {
            b.callback_params =
                vec![("location".into(), location.into()), ("accounts-server".into(), dc.clone())];
            b.token_fields = json!({"api_domain": dc});
        });
        let (at_us, at_dc) = (fake.requests_at(&fake.url).len(), fake.requests_at(&dc).len());
        let scope = body["oauth2"]["scopes"][0]["scope"].as_str().unwrap().to_owned();
        let got = connect(&app, &api, &service, &link, &[&scope]).await;
        assert_eq!(got["status"], "connected", "{link}: {got}");
        assert_eq!(got["captured"]["accounts_server"], dc, "{link}");
        assert_eq!(
            (got["captured"]["location"].as_str(), &got["captured"][api_origin]),
            (Some(location), &json!(dc))
        );
        let res = invoke(&api, &link, json!({"path": "/me"})).await;
        assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{link}: {}", res.body);
        assert_eq!(
            fake.requests_at(&fake.url)[at_us..],
            ["GET /authorize"],
            "{link}: consent only, at the US server"
        );
        let base = if template == "zoho_crm" { "/api" } else { "/api/v1" };
        let expected = ["POST /token".to_owned(), format!("GET {base}/me")];
        assert_eq!(fake.requests_at(&dc)[at_dc..], expected, "{link}: token and API call in its data centre");
    }
}

/// An `accounts-server` the allow-list does not name (an attacker's link, or a tampered redirect)
/// ends the connect before any token request: no code, no verifier and no client secret leave.
#[tokio::test]
async fn a_hostile_accounts_server_ends_the_connect_and_nothing_is_sent_or_stored() {
    let behaviour = Behaviour { client_auth: ClientAuth::Body, ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let hostile = FakeProvider::start().await;
    zoho_crm(&api, &fake).await;
    let eu = fake.other_url.clone();
    for (i, accounts) in [
        hostile.url.clone(),
        format!("{eu}/../evil"),
        format!("{eu}@{}", hostile.url.trim_start_matches("http://")),
        format!("{eu}.evil"),
        "x".repeat(5000),
    ]
    .into_iter()
    .enumerate()
    {
        fake.set(|b| b.callback_params = vec![("accounts-server".into(), accounts.clone())]);
        let link = format!("zoho_{i}");
        let got = connect(&app, &api, "zoho_crm", &link, &["ZohoCRM.modules.ALL"]).await;
        assert_eq!(got["status"], "not_connected", "{accounts:.40}: {got}");
        assert_eq!(got["captured"], json!({}));
        let said = got["status_message"].as_str().unwrap_or_default();
        assert!(said.contains("accounts-server"), "{said}");
        assert!(said.contains("not one of the origins") || said.contains("far longer"), "{said}");
        assert!(said.chars().count() < 1200, "the value is quoted, not repeated: {said}");
        let page = text_of(&app.admin().await.get(&format!("/admin/connections/{link}")).await);
        assert!(page.contains("not one of the origins") || page.contains("far longer"), "{page}");
        assert!(access_token(&app, &link).await.is_none());
    }
    assert_eq!(fake.token_count(), 0, "no code exchange anywhere");
    assert!(hostile.requests().is_empty(), "{:?}", hostile.requests());
    assert!(fake.requests_at(&eu).is_empty());
}

/// Salesforce: the token answer's `instance_url` "identifies the Salesforce instance to which API
/// calls are sent" (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm);
/// the token endpoint stays at login.salesforce.com.
#[tokio::test]
async fn a_salesforce_instance_url_becomes_the_api_base_and_a_foreign_one_stores_nothing() {
    let behaviour = Behaviour { client_auth: ClientAuth::Body, ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let instance = fake.other_url.clone();
    let fields = [
        ("oauth2.authorization_url", fake.authorize_url().into()),
        ("oauth2.token_url", fake.token_url().into()),
        ("oauth2.revoke_url", fake.revoke_url().into()),
        ("oauth2.captured_values.0.allowed", json!([instance])),
        ("api_base_url", "{instance_url}/api".into()),
    ];
    api.create("/api/v1/services", &from_template(&api, "salesforce", &fake, &fields).await).await;
    fake.set(|b| {
        b.token_fields = json!({"instance_url": format!("{instance}/"), "id": "https://login/id/00D/005"})
    });
    let got = connect(&app, &api, "salesforce", "org", &["api", "refresh_token"]).await;
    assert_eq!(got["captured"], json!({"instance_url": instance}));
    assert_eq!(invoke(&api, "org", json!({"path": "/limits"})).await.status, 200);
    assert_eq!(fake.requests_at(&instance), ["GET /api/limits"]);

    let hostile = FakeProvider::start().await;
    fake.set(|b| b.token_fields = json!({"instance_url": hostile.url}));
    let got = connect(&app, &api, "salesforce", "stolen", &["api"]).await;
    assert_eq!((got["status"].as_str(), &got["captured"]), (Some("not_connected"), &json!({})));
    let said = got["status_message"].as_str().unwrap();
    assert!(said.contains("instance_url") && said.contains("not one of the origins"), "{said}");
    assert!(access_token(&app, "stolen").await.is_none(), "the tokens of a refused answer are not kept");
    assert_eq!(invoke(&api, "stolen", json!({"path": "/limits"})).await.status, 409);
    assert!(hostile.requests().is_empty());
}

/// Slack's oauth.v2.access answers `"team": {"id": "T…", "name": …}` beside the tokens
/// (https://api.slack.com/methods/oauth.v2.access).
#[tokio::test]
async fn the_slack_workspace_id_is_shown_on_the_page_and_read_by_scripts() {
    let behaviour = Behaviour { style: Style::Slack, client_auth: ClientAuth::Body, ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let fields = [
        ("oauth2.authorization_url", fake.authorize_url().into()),
        ("oauth2.token_url", fake.token_url().into()),
        ("oauth2.extra_auth_params", json!({"user_scope": "read"})),
        ("api_base_url", fake.api_url().into()),
    ];
    api.create("/api/v1/services", &from_template(&api, "slack_user", &fake, &fields).await).await;
    let got = connect(&app, &api, "slack_user", "slack_me", &[]).await;
    assert_eq!(got["captured"], json!({"team_id": "T0FAKE"}));
    let page = text_of(&app.admin().await.get("/admin/connections/slack_me").await);
    assert!(page.contains("Workspace ID T0FAKE {team_id} from the token response ( team.id )"), "{page}");
    let service = text_of(&app.admin().await.get("/admin/services/slack_user").await);
    assert!(
        service.contains("{team_id} Workspace ID — from the token response ( team.id ), one DNS label"),
        "{service}"
    );
}

/// A label value with a dot, a slash, an `@` or far too long never reaches a URL: the connect ends
/// before the code exchange and the connection keeps nothing.
#[tokio::test]
async fn a_realm_id_that_is_not_one_label_ends_the_connect_before_any_token_request() {
    let (app, fake, api) = start(Behaviour::default()).await;
    let fields = [
        ("oauth2.authorization_url", fake.authorize_url().into()),
        ("oauth2.token_url", fake.token_url().into()),
        ("api_base_url", format!("{}/api/v3/company/{{realm_id}}", fake.url).into()),
    ];
    api.create("/api/v1/services", &from_template(&api, "quickbooks_online", &fake, &fields).await).await;
    let huge = "9".repeat(3000);
    for (i, bad) in ["12.evil", "../admin", "a/b", "me@evil", "1 2", "x%2F", huge.as_str()].iter().enumerate()
    {
        fake.set(|b| b.callback_params = vec![("realmId".into(), (*bad).to_owned())]);
        let link = format!("books_{i}");
        let got =
            connect(&app, &api, "quickbooks_online", &link, &["com.intuit.quickbooks.accounting"]).await;
        assert_eq!((got["status"].as_str(), &got["captured"]), (Some("not_connected"), &json!({})), "{got}");
        let said = got["status_message"].as_str().unwrap();
        assert!(said.contains("realmId"), "{said}");
        assert!(said.contains("not one DNS label") || said.contains("far longer"), "{bad:.20}: {said}");
    }
    fake.set(|b| b.callback_params = vec![]);
    let got =
        connect(&app, &api, "quickbooks_online", "no_realm", &["com.intuit.quickbooks.accounting"]).await;
    let said = got["status_message"].as_str().unwrap();
    assert!(said.contains("carried no realmId"), "{said}");
    assert_eq!(fake.token_count(), 1, "only the connect without a realm exchanged its code");
    assert!(access_token(&app, "no_realm").await.is_none());
}

/// An allow-list narrowed after a connection was connected takes the dropped origin away from it:
/// its next refresh sends nothing there (neither the refresh token nor the client secret) and the
/// owner is asked to reconnect.
#[tokio::test]
async fn an_origin_dropped_from_the_allow_list_is_no_longer_sent_to() {
    let behaviour = Behaviour { client_auth: ClientAuth::Body, ..Behaviour::default() };
    let (app, fake, api) = start(behaviour).await;
    let eu = fake.other_url.clone();
    fake.set(|b| {
        b.callback_params = vec![("accounts-server".into(), eu.clone())];
        b.token_fields = json!({"api_domain": eu});
    });
    zoho_crm(&api, &fake).await;
    connect(&app, &api, "zoho_crm", "zoho_eu", &["ZohoCRM.modules.ALL"]).await;
    let mut caps = api.get("/api/v1/services/zoho_crm").await.json()["oauth2"]["captured_values"].clone();
    caps[0]["allowed"] = json!([fake.url]);
    let res = api.patch("/api/v1/services/zoho_crm", &json!({"oauth2": {"captured_values": caps}})).await;
    assert_eq!(res.status, 200, "narrowing needs no new secret: {}", res.body);

    app.clock.advance(3600);
    let res = invoke(&api, "zoho_eu", json!({"path": "/me"})).await;
    assert_eq!(res.status, 409, "{}", res.body);
    let got = api.get("/api/v1/connections/zoho_eu").await.json();
    assert_eq!(got["status"], "needs_reconnect");
    assert!(got["status_message"].as_str().unwrap().contains("{accounts_server}"), "{got}");
    assert_eq!(fake.requests_at(&eu), ["POST /token"], "only the code exchange, before the change");
    assert!(fake.grants("refresh_token").is_empty());
}
