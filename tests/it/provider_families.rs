//! Every OAuth2 template of the catalogue, grouped by how its provider's token endpoint behaves,
//! against the fake answering as that provider documents (the URL is on each row). Each service is
//! created from its template with its URLs moved to the loopback fake (`moved`), connected through
//! the consent, invoked (the token where the template places it), refreshed twice, then its grant
//! is revoked (Needs reconnect), it is reconnected, its client secret is refused (the service is
//! flagged) and its token endpoint fails with a 5xx (a passing failure: the connection and its
//! tokens stay). Templates whose tokens do not expire are connected, invoked and left a year.

use serde_json::{Value, json};

use crate::support::{
    Api, Behaviour, ClientAuth, FakeProvider, Style, TestApp, access_token, connect_oauth, invoke, loopback,
    refresh_token, row, text_of,
};

/// What a refresh answer carries besides the access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// A new refresh token; the presented one dies.
    Rotated,
    /// The presented refresh token again.
    Same,
    /// No refresh token: the one from the consent stays.
    Omitted,
    /// The provider issues no refresh token: its access tokens do not expire.
    Never,
}
use Refresh::{Never, Omitted, Rotated, Same};

/// A template and how its provider's token endpoint answers.
struct Provider {
    template: &'static str,
    style: Style,
    auth: ClientAuth,
    refresh: Refresh,
    /// Token answers carry `expires_in`; without it a token lasts until the API refuses it.
    expires: bool,
}

const fn provider(template: &'static str, style: Style, auth: ClientAuth, refresh: Refresh) -> Provider {
    Provider { template, style, auth, refresh, expires: true }
}

const BODY: ClientAuth = ClientAuth::Body;
const BASIC: ClientAuth = ClientAuth::Basic;

/// RFC 6749 answers; the client authenticates with `client_id` and `client_secret` in the body.
const IN_THE_BODY: &[Provider] = &[
    // https://developers.google.com/identity/protocols/oauth2/web-server#offline: a refresh answer
    // has no refresh_token.
    provider("google_workspace", Style::Standard, BODY, Omitted),
    // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token:
    // "Refresh tokens replace themselves with a fresh token upon every use."
    provider("microsoft_365", Style::Standard, BODY, Rotated),
    // https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/: rotating refresh tokens.
    provider("atlassian_cloud", Style::Standard, BODY, Rotated),
    // https://docs.gitlab.com/api/oauth2/: the refresh answer's refresh_token replaces the old one.
    provider("gitlab", Style::Standard, BODY, Rotated),
    // https://developer.box.com/guides/authentication/oauth2/without-sdk/: a refresh token is used once.
    provider("box", Style::Standard, BODY, Rotated),
    // https://developers.dropbox.com/oauth-guide: a refresh answer has no refresh_token.
    provider("dropbox", Style::Standard, BODY, Omitted),
    // https://developers.asana.com/docs/oauth: a refresh answer has no refresh_token.
    provider("asana", Style::Standard, BODY, Omitted),
    // https://linear.app/developers/oauth-2-0-authentication: 24-hour tokens and refresh tokens.
    provider("linear", Style::Standard, BODY, Rotated),
    // https://support.zendesk.com/hc/en-us/articles/9182123625370: a refresh "will also return a
    // refresh token and delete the previous access and refresh tokens".
    provider("zendesk", Style::Standard, BODY, Rotated),
    // https://www.servicenow.com/docs/bundle/yokohama-platform-security/page/administer/security/concept/c_OAuthApplications.html:
    // a refresh answer carries the refresh token it was given.
    provider("servicenow", Style::Standard, BODY, Same),
];

/// RFC 6749 answers; the client authenticates with a Basic header.
const IN_A_BASIC_HEADER: &[Provider] = &[
    // https://developer.xero.com/documentation/guides/oauth2/auth-flow: "Authorization: Basic …";
    // each refresh answer has a new refresh token.
    provider("xero", Style::Standard, BASIC, Rotated),
    // https://developer.atlassian.com/cloud/bitbucket/oauth-2/: `curl -u client_id:secret`.
    provider("bitbucket_cloud", Style::Standard, BASIC, Same),
    // https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq:
    // refresh "using the latest refresh_token returned to you from the previous request".
    provider("quickbooks_online", Style::Standard, BASIC, Rotated),
    // https://pipedrive.readme.io/docs/marketplace-oauth-authorization: Basic, api_domain per company.
    provider("pipedrive", Style::Standard, BASIC, Same),
];

/// Each its own family: the answer shapes of `support::Style`, Notion's JSON request, Salesforce's
/// answers without `expires_in`.
const OWN_WAYS: &[Provider] = &[
    // https://developers.notion.com/reference/create-a-token, …/refresh-a-token: Basic, a JSON body,
    // no `expires_in`, "a new access token and new refresh token".
    Provider { expires: false, ..provider("notion", Style::Standard, BASIC, Rotated) },
    // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm: no
    // expires_in (the session lasts until the API refuses it), no new refresh token.
    Provider { expires: false, ..provider("salesforce", Style::Standard, BODY, Omitted) },
    // https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
    provider("github_app", Style::GitHub, BODY, Rotated),
    // Slack rotates the refresh token (https://api.slack.com/authentication/rotation).
    provider("slack_user", Style::Slack, BODY, Rotated),
    // HubSpot's refresh answer carries the same refresh token
    // (https://developers.hubspot.com/docs/api/oauth/tokens).
    provider("hubspot", Style::HubSpot, BODY, Same),
    // A Zoho refresh answer has no refresh token
    // (https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html).
    provider("zoho_crm", Style::Zoho, BODY, Omitted),
    provider("zoho_desk", Style::Zoho, BODY, Omitted),
];

/// Tokens that do not expire and no refresh token.
const NOT_EXPIRING: &[Provider] = &[
    // https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
    Provider { expires: false, ..provider("github_oauth_app", Style::GitHub, BODY, Never) },
    // https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant:
    // an offline token that does not expire.
    Provider { expires: false, ..provider("shopify", Style::Standard, BODY, Never) },
    // Bot tokens expire only when the app opts into rotation (https://api.slack.com/authentication/rotation).
    Provider { expires: false, ..provider("slack_bot", Style::Slack, BODY, Never) },
];

/// The fake as `p`'s provider, with what it adds to the callback and token answers (captured
/// values: QuickBooks' realmId, Zoho's data centre, Pipedrive's api_domain, Salesforce's instance).
fn behaviour(p: &Provider, fake: &FakeProvider) -> Behaviour {
    let other = fake.other_url.clone();
    let mut b = Behaviour {
        style: p.style,
        client_auth: p.auth,
        require_pkce: false,
        refresh_tokens: p.refresh != Never,
        rotate_refresh_tokens: p.refresh == Rotated,
        same_refresh_token: p.refresh == Same,
        no_expiry: !p.expires,
        ..Behaviour::default()
    };
    match p.template {
        "quickbooks_online" => {
            b.callback_params = vec![("realmId".into(), "9130350".into())];
            b.token_fields = json!({"x_refresh_token_expires_in": 8_726_400});
        }
        "zoho_crm" | "zoho_desk" => {
            b.callback_params =
                vec![("location".into(), "eu".into()), ("accounts-server".into(), other.clone())];
            b.token_fields = json!({"api_domain": other});
        }
        "pipedrive" => b.token_fields = json!({"api_domain": other}),
        "salesforce" => b.token_fields = json!({"instance_url": other, "issued_at": "1700000000000"}),
        "github_app" => b.refresh_token_expires_in = Some(15_897_600),
        _ => {}
    }
    b
}

/// A URL of a template moved to the fake: a fixed host becomes the fake's origin, a host naming a
/// connection variable (`https://{subdomain}.zendesk.com`) the fake's `/tenants/{subdomain}`, and a
/// captured origin (`{accounts_server}`) stays; `end` replaces the path (`api` keeps it after).
fn moved(url: &str, fake: &FakeProvider, end: &str) -> String {
    let (origin, path) = if url.starts_with('{') {
        let (origin, path) = url.split_at(url.find('}').unwrap() + 1);
        (origin.to_owned(), path)
    } else {
        let rest = url.trim_start_matches("https://");
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let origin = match (host.find('{'), host.find('}')) {
            (Some(a), Some(b)) => format!("{}/tenants/{}", fake.url, &host[a..=b]),
            _ => fake.url.clone(),
        };
        (origin, path)
    };
    if end == "api" { format!("{origin}/api{path}") } else { format!("{origin}/{end}") }
}

/// The service of `template` with the fake's client, every URL moved to the fake, and every
/// allow-list of captured origins naming the fake's two origins instead.
async fn from_template(api: &Api, template: &str, fake: &FakeProvider) -> Value {
    let mut service = api.get(&format!("/api/v1/templates/{template}")).await.json()["service"].clone();
    service["template"] = template.into();
    let base = service["api_base_url"].as_str().unwrap().to_owned();
    service["api_base_url"] = moved(&base, fake, "api").into();
    let o = &mut service["oauth2"];
    o["client_id"] = fake.client_id.clone().into();
    o["client_secret"] = fake.client_secret.clone().into();
    for (field, end) in [("authorization_url", "authorize"), ("token_url", "token"), ("revoke_url", "revoke")]
    {
        if let Some(url) = o[field].as_str().map(str::to_owned) {
            o[field] = moved(&url, fake, end).into();
        }
    }
    for cap in o["captured_values"].as_array_mut().into_iter().flatten() {
        let Some(allowed) = cap["allowed"].as_array() else { continue };
        // A keyed list (`eu => https://desk.zoho.eu`) keeps its keys, every origin the fake's second.
        let keyed = |a: &Value| {
            a.as_str().unwrap().split_once(" => ").map(|(k, _)| format!("{k} => {}", fake.other_url))
        };
        cap["allowed"] = match allowed.iter().map(keyed).collect::<Option<Vec<_>>>() {
            Some(keyed) => json!(keyed),
            None => json!([fake.url, fake.other_url]),
        };
    }
    service
}

/// The header a template puts its token in, as the fake records it.
fn placed(service: &Value, token: &str) -> String {
    let at = &service["oauth2"]["token_placement"];
    assert_eq!(at["in"], "header");
    let prefix = at["prefix"].as_str().unwrap_or_default();
    let value = if prefix.is_empty() { token.to_owned() } else { format!("{prefix} {token}") };
    format!("{}: {value}", at["name"].as_str().unwrap().to_ascii_lowercase())
}

/// How the fake's style words a dead refresh token.
fn dead_word(style: Style) -> &'static str {
    match style {
        Style::Standard => "invalid_grant",
        Style::Slack => "invalid_refresh_token",
        Style::GitHub => "bad_refresh_token",
        Style::HubSpot => "BAD_REFRESH_TOKEN",
        Style::Facebook => "190",
        Style::Zoho => "invalid_code",
    }
}

const LINK: &str = "family";

/// Kills the connection's access token at the provider and moves the clock past its expiry.
async fn expire(app: &TestApp, fake: &FakeProvider) {
    fake.kill(&access_token(app, LINK).await.expect("an access token"));
    app.clock.advance(3600);
}

/// Invokes `/me` and insists on the upstream's 200, with the stored token in the template's header.
async fn works(app: &TestApp, api: &Api, fake: &FakeProvider, service: &Value, when: &str) {
    let res = invoke(api, LINK, json!({"path": "/me"})).await;
    let t = service["template"].as_str().unwrap();
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{t} {when}: {}", res.body);
    let call = fake.api_calls().pop().unwrap();
    let token = access_token(app, LINK).await.unwrap();
    assert_eq!((call.accepted, call.header), (true, Some(placed(service, &token))), "{t} {when}");
}

async fn connect(app: &TestApp, api: &Api, service: &Value) -> Value {
    let vars: serde_json::Map<String, Value> = service["connection_variables"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["name"].as_str().unwrap().to_owned(), json!("acme")))
        .collect();
    let scopes: Vec<&str> = service["oauth2"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap())
        .collect();
    let mut body =
        json!({"service": service["link_name"], "name": "Family", "link_name": LINK, "scopes": scopes});
    if !vars.is_empty() {
        body["variables"] = vars.into();
    }
    api.create("/api/v1/connections", &body).await;
    connect_oauth(&app.admin().await, LINK).await;
    api.get(&format!("/api/v1/connections/{LINK}")).await.json()
}

/// Connect, invoke, two refreshes, a revoked grant, a reconnect, a refused client secret and a 5xx.
async fn lifecycle(p: &Provider) {
    let t = p.template;
    let app = TestApp::spawn_with(loopback).await;
    let fake = FakeProvider::start().await;
    fake.set(|b| *b = behaviour(p, &fake));
    let api = Api::admin(&app).await;
    let service = from_template(&api, t, &fake).await;
    api.create("/api/v1/services", &service).await;
    let got = connect(&app, &api, &service).await;
    assert_eq!(got["status"], "connected", "{t}: {got}");
    let exchange = &fake.grants("authorization_code")[0];
    let format = if service["oauth2"]["token_request_format"] == "json" { "json" } else { "form" };
    assert_eq!(exchange.format, format, "{t}");
    let pkce = service["oauth2"]["pkce"] != false;
    assert_eq!(exchange.params.contains_key("code_verifier"), pkce, "{t}: PKCE as the template says");
    works(&app, &api, &fake, &service, "after the consent").await;

    if p.refresh == Never {
        assert_eq!(row(&app, LINK).await.expires_at, None, "{t}");
        app.clock.advance(365 * 86_400);
        works(&app, &api, &fake, &service, "a year on").await;
        assert_eq!(fake.token_count(), 1, "{t}: the code exchange only");
        return;
    }

    for n in 1..=2 {
        let before = refresh_token(&app, LINK).await.unwrap();
        expire(&app, &fake).await;
        works(&app, &api, &fake, &service, &format!("after refresh {n}")).await;
        assert_eq!(fake.grants("refresh_token").len(), n, "{t}");
        assert_eq!(fake.grants("refresh_token")[n - 1].params["refresh_token"], before, "{t}");
        assert_eq!(access_token(&app, LINK).await, fake.issued("access").last().cloned(), "{t}");
        let after = refresh_token(&app, LINK).await.unwrap();
        if p.refresh == Rotated {
            assert_eq!(Some(&after), fake.issued("refresh").last(), "{t}: the rotated token is kept");
            assert_ne!(after, before, "{t}");
        } else {
            assert_eq!(after, before, "{t}: the refresh token stays");
        }
    }

    // The owner revokes the app at the provider: every token of the grant dies.
    fake.issued("refresh").iter().for_each(|r| fake.kill(r));
    expire(&app, &fake).await;
    let res = failing(p, &api).await;
    let shown = api.get(&format!("/api/v1/connections/{LINK}")).await.json();
    let said = shown["last_error"].as_str().unwrap_or_default();
    assert_eq!(shown["status"], "needs_reconnect", "{t}: {shown}");
    assert!(said.contains(dead_word(p.style)) && said.contains("reconnect"), "{t}: {said}");
    if p.expires {
        assert_eq!(res.json()["error"]["message"].as_str(), Some(said), "{t}");
    }
    let res = invoke(&api, LINK, json!({"path": "/me"})).await;
    assert_eq!((res.status, res.json()["error"]["status"].as_str()), (409, Some("needs_reconnect")), "{t}");
    let stored = row(&app, LINK).await;
    assert!(stored.access_token.is_none() && stored.refresh_token.is_none(), "{t}: tokens cleared");
    connect_oauth(&app.admin().await, LINK).await;
    works(&app, &api, &fake, &service, "after the reconnect").await;

    // A client secret the provider refuses flags the service and keeps the connection.
    let link = service["link_name"].as_str().unwrap();
    let secret = |s: &str| json!({"oauth2": {"client_secret": s}});
    assert_eq!(api.patch(&format!("/api/v1/services/{link}"), &secret("not-the-secret")).await.status, 200);
    expire(&app, &fake).await;
    let res = failing(p, &api).await;
    if p.expires {
        assert_eq!(res.status, 503, "{t}: {}", res.body);
        assert!(res.body.contains("refused the client credentials of the service"), "{t}: {}", res.body);
    }
    let page = text_of(&app.admin().await.get(&format!("/admin/services/{link}")).await);
    assert!(page.contains("The provider refused the client credentials"), "{t}: {page}");
    assert_eq!(row(&app, LINK).await.status, "connected", "{t}");

    // A provider 5xx is a passing failure: the connection and its tokens stay.
    assert_eq!(
        api.patch(&format!("/api/v1/services/{link}"), &secret(&fake.client_secret)).await.status,
        200
    );
    fake.set(|b| b.token_error = Some((500, "")));
    let kept = (access_token(&app, LINK).await, refresh_token(&app, LINK).await);
    let res = failing(p, &api).await;
    if p.expires {
        assert_eq!(res.status, 503, "{t}: {}", res.body);
    }
    let stored = row(&app, LINK).await;
    assert_eq!(stored.status, "connected", "{t}");
    assert!(stored.status_message.as_deref().unwrap_or_default().contains("HTTP 500"), "{t}");
    assert_eq!((access_token(&app, LINK).await, refresh_token(&app, LINK).await), kept, "{t}: tokens kept");
    fake.set(|b| b.token_error = None);
    app.clock.advance(5);
    works(&app, &api, &fake, &service, "once the provider is back").await;
}

/// An invoke whose refresh fails. A token that had expired is refreshed before the call, and the
/// app answers for itself; one without an expiry is refreshed after the API refused it, and the
/// caller gets the API's 401 as it came (the refresh's failure is recorded on the connection).
async fn failing(p: &Provider, api: &Api) -> crate::support::Page {
    let res = invoke(api, LINK, json!({"path": "/me"})).await;
    if !p.expires {
        assert_eq!(
            (res.status, res.json()["status"].as_u64()),
            (200, Some(401)),
            "{}: {}",
            p.template,
            res.body
        );
    }
    res
}

async fn each(providers: &[Provider]) {
    for p in providers {
        lifecycle(p).await;
    }
}

#[tokio::test]
async fn templates_whose_provider_takes_the_client_secret_in_the_body_live_through_every_stage() {
    each(IN_THE_BODY).await;
}

#[tokio::test]
async fn templates_whose_provider_takes_a_basic_header_live_through_every_stage() {
    each(IN_A_BASIC_HEADER).await;
}

#[tokio::test]
async fn templates_of_providers_with_their_own_answers_live_through_every_stage() {
    each(OWN_WAYS).await;
}

#[tokio::test]
async fn templates_whose_tokens_do_not_expire_connect_invoke_and_need_no_refresh() {
    each(NOT_EXPIRING).await;
}
