//! Every API Key and Basic Authentication template of the catalogue, created from the template with
//! its API base URL moved to a loopback upstream that records what arrives: the person connecting
//! types what the provider's documentation says to type (the URL is on each case), and every call,
//! the service's Test included, carries exactly the header that documentation shows.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::{Api, Upstream, assert_hidden, canary, invoke, spawn_app};

/// A template, what the person connecting types, and the headers the provider then receives.
struct Case {
    template: &'static str,
    typed: Value,
    sent: Vec<(&'static str, String)>,
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// One key pasted into the template's single parameter, sent as `Authorization: {prefix}{key}`.
fn authorization(template: &'static str, key: &str, prefix: &str) -> Case {
    Case {
        template,
        typed: json!({"params": {"Authorization": key}}),
        sent: vec![("authorization", format!("{prefix}{key}"))],
    }
}

fn cases(key: &str, other: &str) -> Vec<Case> {
    vec![
        // "use your API key as the username and X (or any value) as the password"
        // (https://developers.freshdesk.com/api/#authentication).
        Case {
            template: "freshdesk",
            typed: json!({"username": key, "password": "X"}),
            sent: vec![("authorization", basic(key, "X"))],
        },
        // The same for Freshservice (https://api.freshservice.com/#authentication).
        Case {
            template: "freshservice",
            typed: json!({"username": key, "password": "X"}),
            sent: vec![("authorization", basic(key, "X"))],
        },
        // The API key SID as the username and its secret as the password
        // (https://www.twilio.com/docs/usage/api#authenticate-with-http).
        Case {
            template: "twilio",
            typed: json!({"username": other, "password": key}),
            sent: vec![("authorization", basic(other, key))],
        },
        // "Authorization: SSWS ${api_token}" (https://developer.okta.com/docs/guides/create-an-api-token/main/).
        authorization("okta", key, "SSWS "),
        // "Authorization: Token token=y_NbAkKc66ryYTWUXYEu" (https://developer.pagerduty.com/docs/authentication).
        authorization("pagerduty", key, "Token token="),
        // "Authorization: Bearer <yourToken>"
        // (https://confluence.atlassian.com/enterprise/using-personal-access-tokens-1026032365.html).
        authorization("jira_data_center", key, "Bearer "),
        // "Authorization: Bearer <<YOUR_API_KEY>>"
        // (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/authentication).
        authorization("sendgrid", key, "Bearer "),
        // Bearer authentication with a secret or restricted key (https://docs.stripe.com/api/authentication).
        authorization("stripe", key, "Bearer "),
        // Two headers, DD-API-KEY and DD-APPLICATION-KEY (https://docs.datadoghq.com/api/latest/authentication/).
        Case {
            template: "datadog",
            typed: json!({"params": {"DD-API-KEY": key, "DD-APPLICATION-KEY": other}}),
            sent: vec![("dd-api-key", key.to_owned()), ("dd-application-key", other.to_owned())],
        },
        // A key in a header of its own (https://swagger.io/docs/specification/v3_0/authentication/api-keys/).
        Case {
            template: "api_key_header",
            typed: json!({"params": {"X-Api-Key": key}}),
            sent: vec![("x-api-key", key.to_owned())],
        },
    ]
}

/// The template's API base URL under the upstream: a host naming a connection variable
/// (`https://{subdomain}.freshdesk.com`) becomes `/tenants/{subdomain}`, the path stays after `/api`;
/// a template that leaves the base URL to the admin (Jira Data Center) gets `/api`.
fn moved(base: Option<&str>, up: &Upstream) -> String {
    let Some(base) = base else { return format!("{}/api", up.url) };
    let rest = base.trim_start_matches("https://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match (host.find('{'), host.find('}')) {
        (Some(a), Some(b)) => format!("{}/tenants/{}/api{path}", up.url, &host[a..=b]),
        _ => format!("{}/api{path}", up.url),
    }
}

/// Creates the service from the case's template and its connection, connected with what the case
/// types; returns the connection's API base path at the upstream and the template's test request.
async fn connect(api: &Api, up: &Upstream, case: &Case) -> (String, String) {
    let t = case.template;
    let mut service = api.get(&format!("/api/v1/templates/{t}")).await.json()["service"].clone();
    service["template"] = t.into();
    service["api_base_url"] = moved(service["api_base_url"].as_str(), up).into();
    let created = api.create("/api/v1/services", &service).await;
    let vars: serde_json::Map<String, Value> = service["connection_variables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["name"].as_str().unwrap().to_owned(), json!("acme")))
        .collect();
    let mut connection = json!({"service": created["link_name"], "name": t, "link_name": t, "scopes": []});
    if !vars.is_empty() {
        connection["variables"] = vars.into();
    }
    api.create("/api/v1/connections", &connection).await;
    let res = api.put(&format!("/api/v1/connections/{t}/credentials"), &case.typed).await;
    assert_eq!(res.status, 200, "{t}: {}", res.body);
    let shown = api.get(&format!("/api/v1/connections/{t}")).await.json();
    assert_eq!(shown["status"], "connected", "{t}: {shown}");
    let base = created["api_base_url"].as_str().unwrap().replace("{subdomain}", "acme");
    let test_request = created["test_request"].as_str().unwrap_or_default().to_owned();
    (base.trim_start_matches(&up.url).to_owned(), test_request)
}

#[tokio::test]
async fn every_api_key_and_basic_template_sends_the_header_its_provider_documents() {
    let app = spawn_app().await;
    let up = Upstream::start().await;
    let api = Api::admin(&app).await;
    let (key, other) = (canary("key"), canary("other"));
    for case in cases(&key, &other) {
        let t = case.template;
        let (path, test_request) = connect(&api, &up, &case).await;

        let res = invoke(&api, t, json!({"path": "/me"})).await;
        assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{t}: {}", res.body);
        assert_hidden(&res.body, &[key.clone(), other.clone()], t);
        let got = up.received().pop().unwrap();
        assert_eq!(got.path, format!("{path}/me"), "{t}");
        for (name, value) in &case.sent {
            assert_eq!(&got.header(name), value, "{t}: {name}");
        }

        // The service's Test runs the template's test request with the same credentials; a template
        // without one (the admin knows the API) checks only that credentials are there.
        let before = up.count();
        let res = api.post(&format!("/api/v1/connections/{t}/test"), &json!({})).await;
        assert_eq!(res.json()["ok"], true, "{t}: {}", res.body);
        let Some((method, target)) = test_request.split_once(' ') else {
            assert_eq!(up.count(), before, "{t}: nothing sent");
            continue;
        };
        let got = up.received().pop().unwrap();
        let target = target.split('?').next().unwrap();
        assert_eq!((got.method.as_str(), got.path.clone()), (method, format!("{path}{target}")), "{t}");
        for (name, value) in &case.sent {
            assert_eq!(&got.header(name), value, "{t}: {name} on the test request");
        }
    }
}
