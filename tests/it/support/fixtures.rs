//! Request bodies the tests start from (services of each kind, connections) and the services a list
//! test seeds. Each body is valid as it is; a test changes the one field it is about.

use connections::domain::service_input::{ServiceInput, validate};
use connections::models::service;
use serde_json::{Value, json};

use super::api::Api;
use super::app::TestApp;
use super::fake_provider::FakeProvider;

/// An API Key service named "Service {link}", with two header parameters.
pub fn api_key_service(link: &str) -> Value {
    api_key_service_named(link, &format!("Service {link}"))
}

/// An API Key service with two header parameters, under a name of the test's choosing.
pub fn api_key_service_named(link: &str, name: &str) -> Value {
    json!({
        "name": name,
        "link_name": link,
        "auth_type": "api_key",
        "api_key": {"param_type": "header", "params": [
            {"name": "X-Api-Key", "display_name": "API Key"},
            {"name": "X-Org-Id", "display_name": "Organisation"}
        ]}
    })
}

/// A Basic Authentication service named "Service {link}".
pub fn basic_service(link: &str) -> Value {
    json!({ "name": format!("Service {link}"), "link_name": link, "auth_type": "basic" })
}

/// An Authorization Code service at the fake provider, with three scopes and a revoke URL: the one to
/// connect, refresh and revoke.
pub fn oauth_service_at(fake: &FakeProvider, link: &str) -> Value {
    json!({
        "name": format!("Service {link}"),
        "link_name": link,
        "auth_type": "oauth2",
        "oauth2": {
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "authorization_url": fake.authorize_url(),
            "token_url": fake.token_url(),
            "revoke_url": fake.revoke_url(),
            "extra_auth_params": {"access_type": "offline"},
            "scopes": [
                {"scope": "read", "display_name": "Read tickets"},
                {"scope": "write", "display_name": "Update tickets"},
                {"scope": "offline_access", "display_name": "Stay connected"}
            ]
        }
    })
}

/// An Authorization Code service in the style of Zoho Desk, with every setting away from its default
/// (scope delimiter, header prefix, extra parameters): the one to store and read back. Its URLs are
/// never called.
pub fn zoho_service(link: &str, name: &str, secret: &str) -> Value {
    json!({
        "name": name,
        "link_name": link,
        "description": "Zoho Desk tickets",
        "auth_type": "oauth2",
        "api_base_url": "https://desk.zoho.eu/api/v1",
        "oauth2": {
            "client_id": "1000.CLIENTID",
            "client_secret": secret,
            "authorization_url": "https://accounts.zoho.eu/oauth/v2/auth",
            "token_url": "https://accounts.zoho.eu/oauth/v2/token",
            "revoke_url": "https://accounts.zoho.eu/oauth/v2/token/revoke",
            "scope_delimiter": ",",
            "token_placement": {"in": "header", "name": "Authorization", "prefix": "Zoho-oauthtoken"},
            "extra_auth_params": {"access_type": "offline", "prompt": "consent"},
            "scopes": [
                {"scope": "Desk.tickets.READ", "display_name": "Read tickets"},
                {"scope": "Desk.tickets.UPDATE", "display_name": "Update tickets"}
            ]
        }
    })
}

/// A connection's create body, named "Connection {link}".
pub fn connection(service: &str, link: &str, scopes: &[&str]) -> Value {
    json!({ "service": service, "name": format!("Connection {link}"), "link_name": link, "scopes": scopes })
}

/// An API Key service `link` whose calls go under `base`, and its connection `link`, connected with a
/// fresh key (sent as `X-Api-Key`); returns the key.
pub async fn connected_key_connection(api: &Api, link: &str, base: &str) -> String {
    let mut service = api_key_service(link);
    service["api_base_url"] = base.into();
    api.create("/api/v1/services", &service).await;
    api.create("/api/v1/connections", &connection(link, link, &[])).await;
    let key = super::secrets::canary("key");
    let body = json!({"params": {"X-Api-Key": key, "X-Org-Id": "org-1"}});
    let res = api.put(&format!("/api/v1/connections/{link}/credentials"), &body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    key
}

/// Services whose names and link names exercise the search.
pub async fn seed_search_fixtures(api: &Api) {
    for (link, name, kind) in [
        ("zoho_desk", "Zoho Desk", "oauth2"),
        ("zendesk", "Zendesk Support", "api_key"),
        ("freshdesk", "Freshdesk", "api_key"),
        ("jira_cloud", "Jira Cloud", "basic"),
        ("percent", "100% Uptime", "basic"),
        ("under_score", "Plain Name", "basic"),
        ("quoted", "The \"Quoted\" One", "basic"),
        ("munchen", "Stadtwerke München", "basic"),
        ("greek", "ΑΒΓ Δέλτα", "basic"),
        ("github", "GitHub", "api_key"),
    ] {
        let body = match kind {
            "oauth2" => zoho_service(link, name, "s"),
            "api_key" => api_key_service_named(link, name),
            _ => json!({"name": name, "link_name": link, "auth_type": "basic"}),
        };
        api.create("/api/v1/services", &body).await;
    }
}

/// Adds `n` Basic services named "Service 000" … through the model (fast), one second apart.
pub async fn seed_many(app: &TestApp, n: usize) {
    let (keyring, clock) = (app.state.keyring.clone(), app.clock.clone());
    app.state
        .db
        .run(move |c| {
            for i in 0..n {
                let input = ServiceInput {
                    name: Some(format!("Service {i:03}")),
                    link_name: Some(format!("service_{i:03}")),
                    auth_type: Some("basic".into()),
                    ..ServiceInput::default()
                };
                let spec = validate(&input, false, None).map_err(connections::error::AppError::Invalid)?;
                service::insert(c, &keyring, &spec, "seed", clock.now())?;
                clock.advance(1);
            }
            Ok(())
        })
        .await
        .unwrap();
}
