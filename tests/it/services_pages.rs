//! Custom services in the browser: the form for each authentication type, its 422 re-render, the
//! details page, edit with a write-only secret, the delete guard, the list with search, filter, sort,
//! pagination and its htmx fragment, and the alias URL in Advanced Portal Settings.

use serde_json::json;

use crate::support::{
    Api, Browser, Page, TestApp, api_key_service_named, audit_rows, counts, delete_connection,
    insert_connection, opened_secret, raw_service, seed_many, seed_search_fixtures, zoho_service,
};

/// The fields a browser sends for a new service, before the test's own: every section's defaults
/// as the Create Service page renders them (hidden sections are submitted too).
fn form(own: &[(&str, &str)]) -> Vec<(String, String)> {
    let defaults = [
        ("description", ""),
        ("api_base_url", ""),
        ("param_type", "header"),
        ("grant_type", "authorization_code"),
        ("client_id", ""),
        ("client_secret", ""),
        ("authorization_url", ""),
        ("token_url", ""),
        ("refresh_url", ""),
        ("revoke_url", ""),
        ("issuer", ""),
        ("client_auth", "basic"),
        ("scope_delimiter", " "),
        ("token_in", "header"),
        ("token_header_name", "Authorization"),
        ("token_prefix", "Bearer"),
        ("token_query_name", "access_token"),
    ];
    let single = |k: &str| {
        !matches!(k, "param_name" | "param_display" | "scope" | "scope_display" | "extra_key" | "extra_value")
    };
    let mut fields: Vec<(String, String)> = defaults
        .iter()
        .filter(|(k, _)| !own.iter().any(|(o, _)| o == k && single(o)))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    fields.extend(own.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    fields
}

/// POSTs a form with the CSRF token of the page at `from`.
async fn send_form(browser: &Browser, from: &str, path: &str, fields: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.submit(from, path, &pairs).await
}

async fn create_via_form(browser: &Browser, own: &[(&str, &str)]) -> Page {
    send_form(browser, "/admin/services/new", "/admin/services", &form(own)).await
}

/// An OAuth2 Authorization Code service as the form sends it: two scopes, extra parameters and a
/// Zoho-style header prefix.
fn zoho_form(secret: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", "Zoho Desk"),
        ("link_name", "zoho_desk"),
        ("description", "Tickets in Zoho Desk"),
        ("auth_type", "oauth2"),
        ("api_base_url", "https://desk.zoho.eu/api/v1"),
        ("client_id", "1000.ZOHOCLIENT"),
        ("client_secret", secret),
        ("authorization_url", "https://accounts.zoho.eu/oauth/v2/auth"),
        ("token_url", "https://accounts.zoho.eu/oauth/v2/token"),
        ("refresh_url", "https://accounts.zoho.eu/oauth/v2/refresh"),
        ("revoke_url", "https://accounts.zoho.eu/oauth/v2/token/revoke"),
        ("issuer", "https://accounts.zoho.eu"),
        ("client_auth", "body"),
        ("scope_delimiter", ","),
        ("token_in", "header"),
        ("token_header_name", "Authorization"),
        ("token_prefix", "Zoho-oauthtoken"),
        ("scope", "Desk.tickets.READ"),
        ("scope_display", "Read tickets"),
        ("scope", "Desk.contacts.READ"),
        ("scope_display", "Read contacts"),
        ("scope", ""),
        ("scope_display", ""),
        ("extra_key", "access_type"),
        ("extra_value", "offline"),
        ("extra_key", "prompt"),
        ("extra_value", "consent"),
    ]
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

// ---------------------------------------------------------------------------------------------
// Creating each type through the form
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_api_key_service_is_created_through_the_form_with_each_parameter_type() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let api = Api::admin(&app).await;
    for (param_type, label, first, second) in [
        ("query", "Query string", "api_key", "org"),
        ("form", "Form data", "token", "account"),
        ("header", "Header", "X-Api-Key", "X-Org"),
    ] {
        let link = format!("keyed_{param_type}");
        let res = create_via_form(
            &admin,
            &[
                ("name", &format!("Keyed {param_type}")),
                ("link_name", &link),
                ("description", "Made in the browser"),
                ("auth_type", "api_key"),
                ("api_base_url", "https://api.keyed.example/v2"),
                ("param_type", param_type),
                ("param_name", first),
                ("param_display", "The key"),
                ("param_name", ""),
                ("param_display", ""),
                ("param_name", second),
                ("param_display", "The account"),
            ],
        )
        .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.header("location"), format!("/admin/services/{link}"));
        let page = admin.get(res.header("location")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!("Service “Keyed {param_type}” created.")), "the flash message");
        for text in [
            format!("<h1>Keyed {param_type}</h1>"),
            format!("<code>{link}</code>"),
            "API Key".to_owned(),
            format!("<dt>Parameter type</dt><dd>{label}</dd>"),
            format!("<code>{first}</code> (The key), <code>{second}</code> (The account)"),
            "Made in the browser".to_owned(),
            "<code>https://api.keyed.example/v2</code>".to_owned(),
            "No connections use this service yet.".to_owned(),
        ] {
            assert!(page.body.contains(&text), "details lack {text:?}");
        }
        let s = api.get(&format!("/api/v1/services/{link}")).await.json();
        assert_eq!(
            s["api_key"],
            json!({"param_type": param_type, "params": [
                {"name": first, "display_name": "The key"}, {"name": second, "display_name": "The account"}
            ]}),
            "the blank middle row is ignored"
        );
        assert_eq!(s["oauth2"], serde_json::Value::Null, "the hidden OAuth2 fields are not stored");
        assert_eq!(raw_service(&app, &link).await.1, None);
    }
}

#[tokio::test]
async fn a_value_prefix_is_typed_on_the_parameter_row_shown_on_the_pages_and_refused_on_its_row_when_bad() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let okta = |prefix: &'static str| {
        [
            ("name", "Okta"),
            ("link_name", "okta"),
            ("auth_type", "api_key"),
            ("api_base_url", "https://example.okta.com/api/v1"),
            ("param_type", "header"),
            ("param_name", "Authorization"),
            ("param_display", "API token"),
            ("param_prefix", prefix),
        ]
    };
    let res = create_via_form(&admin, &okta("SSWS\t")).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("Use letters, digits, punctuation and spaces only (ASCII)."), "on its row");
    let kept = res.body.split("name=\"param_prefix\"").nth(1).unwrap_or_default();
    assert!(kept.starts_with(" value=\"SSWS\t\""), "the value comes back: {kept:.80}");
    assert_eq!(counts(&app).await.0, 0);

    let res = create_via_form(&admin, &okta("SSWS ")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let details = admin.get("/admin/services/okta").await;
    assert!(details.body.contains("(API token, sent as <code>SSWS </code>…)"), "{}", details.body);
    let edit = admin.get("/admin/services/okta/edit").await;
    assert!(edit.body.contains(r#"name="param_prefix" value="SSWS ""#), "the edit form keeps the space");
    let api = Api::admin(&app).await;
    let service = api.get("/api/v1/services/okta").await.json();
    assert_eq!(service["api_key"]["params"][0]["value_prefix"], "SSWS ");
}

#[tokio::test]
async fn a_basic_authentication_service_is_created_through_the_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = create_via_form(
        &admin,
        &[("name", "Jira"), ("link_name", "jira"), ("auth_type", "basic"), ("client_secret", "ignored")],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = admin.get("/admin/services/jira").await;
    assert!(page.body.contains("<dd>Basic Authentication</dd>"));
    assert!(page.body.contains("username and password are asked for when connecting"));
    assert!(!page.body.contains("Callback URL"), "no OAuth2 details");
    assert_eq!(raw_service(&app, "jira").await.1, None, "a secret sent for another type is not stored");
    assert_eq!(Api::admin(&app).await.get("/api/v1/services/jira").await.json()["auth_type"], "basic");
}

#[tokio::test]
async fn an_oauth2_service_with_two_scopes_extra_parameters_and_a_custom_prefix_is_created_through_the_form()
{
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let canary = "CANARY-form-secret-77";
    let res = create_via_form(&admin, &zoho_form(canary)).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(!res.body.contains(canary));

    let page = admin.get("/admin/services/zoho_desk").await;
    for text in [
        "<dd>OAuth2</dd>",
        "<dd>Authorization Code</dd>",
        "<code>1000.ZOHOCLIENT</code>",
        "<span class=\"badge badge-green\">Set</span>",
        "<code>https://accounts.zoho.eu/oauth/v2/auth</code>",
        "<code>https://accounts.zoho.eu/oauth/v2/token</code>",
        "<code>https://accounts.zoho.eu/oauth/v2/refresh</code>",
        "<code>https://accounts.zoho.eu/oauth/v2/token/revoke</code>",
        "<code>https://accounts.zoho.eu</code>",
        "Request body",
        "Header <code>Authorization: Zoho-oauthtoken …</code>",
        "<dd>Comma</dd>",
        "<code>access_type=offline</code>, <code>prompt=consent</code>",
        "<li><code>Desk.tickets.READ</code> — Read tickets</li>",
        "<li><code>Desk.contacts.READ</code> — Read contacts</li>",
    ] {
        assert!(page.body.contains(text), "details lack {text:?}");
    }
    assert!(page.body.contains(&format!("{}/integration/oauth/callback", app.base)));
    for path in [
        "/admin/services/zoho_desk",
        "/admin/services/zoho_desk/edit",
        "/admin/services",
        "/admin/services/zoho_desk/delete",
    ] {
        let body = admin.get(path).await.body;
        assert!(!body.contains(canary), "{path} shows the secret");
    }

    let s = Api::admin(&app).await.get("/api/v1/services/zoho_desk").await.json();
    assert_eq!(
        s["oauth2"],
        json!({
            "grant_type": "authorization_code",
            "client_id": "1000.ZOHOCLIENT",
            "client_secret_set": true,
            "client_secret_pending": false,
            "authorization_url": "https://accounts.zoho.eu/oauth/v2/auth",
            "token_url": "https://accounts.zoho.eu/oauth/v2/token",
            "refresh_url": "https://accounts.zoho.eu/oauth/v2/refresh",
            "token_request_format": "form",
            "pkce": true,
            "scope_on_refresh": false,
            "token_response": {
                "access_token": "access_token", "refresh_token": "refresh_token", "expires_in": "expires_in",
                "refresh_token_expires_in": "refresh_token_expires_in", "scope": "scope",
                "expires_in_unit": "seconds"
            },
            "dead_grant_errors": [],
            "client_refused_errors": [],
            "expired_when": null,
            "keep_alive_days": null,
            "captured_values": [],
            "refresh_on_status": [],
            "revoke_url": "https://accounts.zoho.eu/oauth/v2/token/revoke",
            "issuer": "https://accounts.zoho.eu",
            "client_auth": "body",
            "scope_delimiter": ",",
            "token_placement": {"in": "header", "name": "Authorization", "prefix": "Zoho-oauthtoken"},
            "extra_auth_params": {"access_type": "offline", "prompt": "consent"},
            "scopes": [
                {"scope": "Desk.tickets.READ", "display_name": "Read tickets"},
                {"scope": "Desk.contacts.READ", "display_name": "Read contacts"}
            ]
        })
    );
    assert_eq!(s["api_key"], serde_json::Value::Null, "the hidden API key rows are not stored");
    assert_eq!(opened_secret(&app, "zoho_desk").await.as_deref(), Some(canary));
    let (_, sealed, config) = raw_service(&app, "zoho_desk").await;
    assert!(!sealed.unwrap().windows(canary.len()).any(|w| w == canary.as_bytes()));
    assert!(!config.contains(canary));
}

#[tokio::test]
async fn an_oauth2_service_can_put_the_token_in_the_query_string() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut fields = zoho_form("s");
    fields.retain(|(k, _)| !matches!(*k, "token_in" | "token_header_name" | "token_prefix" | "link_name"));
    fields.extend([
        ("link_name", "zoho_query"),
        ("token_in", "query"),
        ("token_query_name", "auth_token"),
        ("token_prefix", "Bearer"),
    ]);
    let res = create_via_form(&admin, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = admin.get("/admin/services/zoho_query").await;
    assert!(page.body.contains("Query string <code>?auth_token=…</code>"));
    let s = Api::admin(&app).await.get("/api/v1/services/zoho_query").await.json();
    assert_eq!(s["oauth2"]["token_placement"], json!({"in": "query", "name": "auth_token"}));
    let edit = admin.get("/admin/services/zoho_query/edit").await;
    assert!(edit.body.contains(r#"<input type="radio" name="token_in" value="query" checked>"#));
    assert!(edit.body.contains(r#"name="token_query_name" value="auth_token""#));
}

#[tokio::test]
async fn a_client_credentials_service_is_created_through_the_form_without_an_authorization_url() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let own = [
        ("name", "Graph"),
        ("link_name", "graph"),
        ("auth_type", "oauth2"),
        ("grant_type", "client_credentials"),
        ("client_id", "app-id"),
        ("token_url", "https://login.example/token"),
        ("scope", "https://graph.example/.default"),
        ("scope_display", "Everything"),
    ];
    let res = create_via_form(&admin, &own).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("Enter the client secret: the Client Credentials grant needs one."));
    let mut with_secret = own.to_vec();
    with_secret.push(("client_secret", "cc-secret"));
    let res = create_via_form(&admin, &with_secret).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = admin.get("/admin/services/graph").await;
    assert!(page.body.contains("<dd>Client Credentials</dd>"));
    assert!(page.body.contains("<dt>Authorization URL</dt><dd><span class=\"muted\">—</span></dd>"));
    assert_eq!(opened_secret(&app, "graph").await.as_deref(), Some("cc-secret"));
}

#[tokio::test]
async fn a_blank_link_name_is_suggested_from_the_name_and_a_taken_one_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res =
        create_via_form(&admin, &[("name", "Zoho Desk (EU)"), ("link_name", " "), ("auth_type", "basic")])
            .await;
    assert_eq!(res.header("location"), "/admin/services/zoho_desk_eu");
    let res =
        create_via_form(&admin, &[("name", "Zoho Desk (EU)"), ("link_name", ""), ("auth_type", "basic")])
            .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("This link name is already taken; choose another."));
    assert!(
        res.body.contains(r#"name="link_name" id="service-link-name" value="zoho_desk_eu""#),
        "the suggestion is shown to edit"
    );
    assert_eq!(counts(&app).await.0, 1);
}

#[tokio::test]
async fn a_new_service_can_return_to_the_page_that_asked_for_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let page = admin.get("/admin/services/new?return_to=/admin/connections/new").await;
    assert!(page.body.contains(r#"<input type="hidden" name="return_to" value="/admin/connections/new">"#));
    let res = create_via_form(
        &admin,
        &[
            ("name", "Back"),
            ("link_name", "back"),
            ("auth_type", "basic"),
            ("return_to", "/admin/connections/new"),
        ],
    )
    .await;
    assert_eq!(res.header("location"), "/admin/connections/new?service=back");
    let res = create_via_form(
        &admin,
        &[
            ("name", "Off"),
            ("link_name", "off_site"),
            ("auth_type", "basic"),
            ("return_to", "//evil.example/x"),
        ],
    )
    .await;
    assert_eq!(res.header("location"), "/admin/services/off_site");
}

// ---------------------------------------------------------------------------------------------
// Invalid forms
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_invalid_form_answers_422_keeps_every_value_but_the_secret_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let canary = "CANARY-kept-out-of-the-form";
    let mut fields = zoho_form(canary);
    fields.retain(|(k, _)| !matches!(*k, "name" | "token_url" | "description"));
    fields.extend([
        ("name", "Kept & \"Quoted\" <Name>"),
        ("description", "Line one\r\nLine <two>"),
        ("token_url", "http://accounts.zoho.eu/oauth/v2/token"),
        ("param_type", "query"),
        ("param_name", "kept_param"),
        ("param_display", "Kept label"),
    ]);
    let res = create_via_form(&admin, &fields).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("Some fields need attention"));
    assert!(res.body.contains("Use https (plain http is turned off on this portal)."));
    assert!(!res.body.contains(canary), "the secret is never rendered back");
    for kept in [
        r#"value="Kept &#38; &#34;Quoted&#34; &#60;Name&#62;""#,
        r#"value="zoho_desk""#,
        ">Line one\r\nLine &#60;two&#62;</textarea>",
        r#"value="https://desk.zoho.eu/api/v1""#,
        r#"<input type="radio" name="auth_type" value="oauth2" checked>"#,
        r#"value="1000.ZOHOCLIENT""#,
        r#"value="https://accounts.zoho.eu/oauth/v2/auth""#,
        r#"value="http://accounts.zoho.eu/oauth/v2/token""#,
        r#"value="https://accounts.zoho.eu/oauth/v2/refresh""#,
        r#"value="https://accounts.zoho.eu/oauth/v2/token/revoke""#,
        r#"value="https://accounts.zoho.eu""#,
        r#"<option value="body" selected>"#,
        r#"<option value="," selected>"#,
        r#"name="token_prefix" value="Zoho-oauthtoken""#,
        r#"name="scope" value="Desk.tickets.READ""#,
        r#"name="scope_display" value="Read tickets""#,
        r#"name="scope" value="Desk.contacts.READ""#,
        r#"name="scope_display" value="Read contacts""#,
        r#"name="extra_key" value="access_type""#,
        r#"name="extra_value" value="offline""#,
        r#"name="extra_key" value="prompt""#,
        r#"name="extra_value" value="consent""#,
        r#"<option value="query" selected>"#,
        r#"name="param_name" value="kept_param""#,
        r#"name="param_display" value="Kept label""#,
    ] {
        assert!(res.body.contains(kept), "the re-rendered form lost {kept:?}");
    }
    assert!(
        res.body.contains(r#"name="client_secret""#)
            && !res.body.contains(r#"name="client_secret" value="C"#)
    );
    assert_eq!(counts(&app).await, (0, 0, 0), "nothing written");
}

#[tokio::test]
async fn each_bad_field_gets_its_message_next_to_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let long_name = "n".repeat(101);
    let long_url = format!("https://x.example/{}", "a".repeat(2048));
    let key = |extra: &[(&'static str, &'static str)]| {
        let mut own = vec![
            ("name", "Keyed"),
            ("link_name", "keyed"),
            ("auth_type", "api_key"),
            ("param_type", "header"),
        ];
        own.extend_from_slice(extra);
        own
    };
    let oauth = |drop: &[&str], extra: &[(&'static str, &'static str)]| {
        let mut own: Vec<(&str, &str)> =
            zoho_form("s").into_iter().filter(|(k, _)| !drop.contains(k)).collect();
        own.extend_from_slice(extra);
        own
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("name", ""), ("link_name", "x"), ("auth_type", "basic")],
            r#"<span class="field-error" id="name-err">Enter a name.</span>"#,
        ),
        (
            vec![("name", &long_name), ("link_name", "x"), ("auth_type", "basic")],
            "Use at most 100 characters.",
        ),
        (
            vec![("name", "Tab\there"), ("link_name", "x"), ("auth_type", "basic")],
            "Remove control characters",
        ),
        (
            vec![("name", "X"), ("link_name", "zöho"), ("auth_type", "basic")],
            r#"id="link_name-err">Use snake_case"#,
        ),
        (
            vec![("name", "X"), ("link_name", "zoho_"), ("auth_type", "basic")],
            r#"id="link_name-err">Use snake_case"#,
        ),
        (vec![("name", "X"), ("link_name", "Zoho")], r#"id="auth_type-err">Choose an authentication type."#),
        (
            key(&[
                ("param_name", "X-Key"),
                ("param_display", "A"),
                ("param_name", "x-key"),
                ("param_display", "B"),
            ]),
            "This parameter is already listed.",
        ),
        (key(&[("param_name", "X Key"), ("param_display", "A")]), "Use a valid header name"),
        (key(&[("param_name", "X-Key"), ("param_display", "")]), "Enter the label shown when connecting."),
        (key(&[]), r#"id="params-err">Add at least one parameter."#),
        (oauth(&["authorization_url"], &[]), r#"id="authorization_url-err">Enter the authorization URL."#),
        (oauth(&["token_url"], &[]), r#"id="token_url-err">Enter the access token URL."#),
        (
            oauth(&["token_url"], &[("token_url", "https://me:pw@accounts.zoho.eu/token")]),
            "Remove the user name and password from the URL",
        ),
        (
            {
                let mut own = oauth(&["revoke_url"], &[]);
                own.push(("revoke_url", &long_url));
                own
            },
            r#"id="revoke_url-err">Use at most 2048 characters."#,
        ),
        (
            oauth(&[], &[("extra_key", "redirect_uri"), ("extra_value", "https://evil.example")]),
            "redirect_uri is set by Connections itself",
        ),
        (oauth(&[], &[("extra_key", "prompt"), ("extra_value", "login")]), "This parameter is listed twice."),
        (
            oauth(&[], &[("scope", "Desk.tickets.READ"), ("scope_display", "Again")]),
            "This scope is already listed.",
        ),
        (
            oauth(&["token_prefix"], &[("token_prefix", "Zoho oauthtoken")]),
            r#"id="token_prefix-err">Use one word"#,
        ),
        (
            oauth(&["token_header_name"], &[("token_header_name", "Auth:Header")]),
            r#"id="token_header_name-err">Use a valid header name"#,
        ),
        (oauth(&["client_id"], &[]), r#"id="client_id-err">Enter the client ID."#),
    ];
    for (own, message) in cases {
        let res = create_via_form(&admin, &own).await;
        assert_eq!(res.status, 422, "{message}: {}", res.body);
        assert!(res.body.contains(message), "{message:?} missing from the form");
    }
    assert_eq!(counts(&app).await, (0, 0, 0));
}

#[tokio::test]
async fn a_row_error_is_shown_on_the_row_it_belongs_to() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let res = create_via_form(
        &admin,
        &[
            ("name", "Rows"),
            ("link_name", "rows"),
            ("auth_type", "api_key"),
            ("param_name", "X-One"),
            ("param_display", "One"),
            ("param_name", ""),
            ("param_display", ""),
            ("param_name", "X-Two"),
            ("param_display", ""),
        ],
    )
    .await;
    assert_eq!(res.status, 422);
    let error = "Enter the label shown when connecting.";
    let at = res.body.find(error).expect("the message is shown");
    let row_start = res.body[..at].rfind("<li class=\"param-row\">").unwrap();
    assert!(
        res.body[row_start..at].contains(r#"value="X-Two""#),
        "the message sits on the X-Two row: {}",
        &res.body[row_start..at]
    );
}

#[tokio::test]
async fn rows_can_be_added_and_removed_without_javascript_and_with_htmx() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let base = [
        ("name", "Rows"),
        ("link_name", "rows"),
        ("auth_type", "api_key"),
        ("param_name", "X-One"),
        ("param_display", "One"),
    ];
    let mut add = base.to_vec();
    add.push(("add_row", "params"));
    let res = create_via_form(&admin, &add).await;
    assert_eq!(res.status, 200);
    assert_eq!(count(&res.body, r#"name="param_name""#), 2);
    assert!(res.body.contains(r#"name="param_name" value="X-One""#));
    let mut remove = base.to_vec();
    remove.extend([("param_name", "X-Two"), ("param_display", "Two"), ("remove_row", "params:0")]);
    let res = create_via_form(&admin, &remove).await;
    assert_eq!(res.status, 200);
    assert!(!res.body.contains(r#"value="X-One""#) && res.body.contains(r#"value="X-Two""#));
    let mut scopes = base.to_vec();
    scopes.extend([("scope", ""), ("scope_display", ""), ("add_row", "scopes")]);
    let res = create_via_form(&admin, &scopes).await;
    assert_eq!(count(&res.body, r#"name="scope""#), 2, "the new form's empty row and the added one");
    assert_eq!(counts(&app).await.0, 0, "a row button saves nothing");

    for (kind, field) in [("params", "param_name"), ("scopes", "scope"), ("extra", "extra_key")] {
        let row = admin.get(&format!("/admin/services/rows/{kind}")).await;
        assert_eq!(row.status, 200);
        assert!(row.body.contains(&format!(r#"name="{field}""#)) && !row.body.contains("<html"), "{kind}");
    }
    assert_eq!(admin.get("/admin/services/rows/other").await.status, 404);
}

#[tokio::test]
async fn a_huge_form_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let description = "d".repeat(300 * 1024);
    let res = create_via_form(
        &admin,
        &[("name", "Huge"), ("link_name", "huge"), ("auth_type", "basic"), ("description", &description)],
    )
    .await;
    assert_eq!(res.status, 413);
    assert_eq!(counts(&app).await.0, 0);
}

// ---------------------------------------------------------------------------------------------
// Editing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn editing_with_a_blank_secret_keeps_it_and_the_edit_page_never_shows_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let canary = "CANARY-edit-secret";
    assert_eq!(create_via_form(&admin, &zoho_form(canary)).await.status, 303);
    let sealed = raw_service(&app, "zoho_desk").await.1;

    let edit = admin.get("/admin/services/zoho_desk/edit").await;
    assert_eq!(edit.status, 200);
    assert!(!edit.body.contains(canary));
    assert!(edit.body.contains("leave the client secret blank to keep the stored one"));
    assert!(
        edit.body.contains(r#"<input type="text" value="zoho_desk" readonly"#),
        "the link name is read-only"
    );
    for kept in [
        r#"value="Zoho Desk""#,
        r#"name="scope" value="Desk.contacts.READ""#,
        r#"name="extra_value" value="consent""#,
    ] {
        assert!(edit.body.contains(kept), "{kept}");
    }

    let mut fields = zoho_form("");
    fields.retain(|(k, _)| !matches!(*k, "name" | "link_name"));
    fields.extend([("name", "Zoho Desk EU"), ("link_name", "hijacked")]);
    let res =
        send_form(&admin, "/admin/services/zoho_desk/edit", "/admin/services/zoho_desk", &form(&fields))
            .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), "/admin/services/zoho_desk", "the link name did not change");
    let page = admin.get("/admin/services/zoho_desk").await;
    assert!(page.body.contains("<h1>Zoho Desk EU</h1>") && page.body.contains("badge-green\">Set"));
    assert_eq!(raw_service(&app, "zoho_desk").await.1, sealed, "the sealed secret is untouched");
    assert_eq!(opened_secret(&app, "zoho_desk").await.as_deref(), Some(canary));
    assert_eq!(
        Api::admin(&app).await.get("/api/v1/services/zoho_desk").await.json()["oauth2"]["client_secret_set"],
        true
    );

    let mut fields = zoho_form("CANARY-second");
    fields.retain(|(k, _)| *k != "link_name");
    let res =
        send_form(&admin, "/admin/services/zoho_desk/edit", "/admin/services/zoho_desk", &form(&fields))
            .await;
    assert_eq!(res.status, 303);
    assert_eq!(opened_secret(&app, "zoho_desk").await.as_deref(), Some("CANARY-second"));

    // An invalid edit keeps what was typed, not the secret, and changes nothing.
    let mut fields = zoho_form("CANARY-third");
    fields.retain(|(k, _)| !matches!(*k, "link_name" | "name"));
    fields.push(("name", ""));
    let res =
        send_form(&admin, "/admin/services/zoho_desk/edit", "/admin/services/zoho_desk", &form(&fields))
            .await;
    assert_eq!(res.status, 422);
    assert!(!res.body.contains("CANARY-third") && res.body.contains("Enter a name."));
    assert_eq!(opened_secret(&app, "zoho_desk").await.as_deref(), Some("CANARY-second"));
    assert_eq!(admin.get("/admin/services/nope/edit").await.status, 404);
}

#[tokio::test]
async fn a_service_in_use_refuses_type_parameter_and_grant_changes_on_the_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &api_key_service_named("keyed", "Keyed")).await;
    insert_connection(&app, "keyed", "keyed_one", "Keyed One").await;
    let edit = admin.get("/admin/services/keyed/edit").await;
    assert!(edit.body.contains(
        "1 connection(s) use this service: the authentication type, parameter names and grant type \
         cannot change."
    ));

    let params = [
        ("param_name", "X-Api-Key"),
        ("param_display", "API Key"),
        ("param_name", "X-Org-Id"),
        ("param_display", "Organisation"),
    ];
    let submit = |own: Vec<(&'static str, &'static str)>| {
        let admin = &admin;
        let (from, to) = ("/admin/services/keyed/edit", "/admin/services/keyed");
        async move { send_form(admin, from, to, &form(&own)).await }
    };
    let mut to_basic = vec![("name", "Keyed"), ("auth_type", "basic")];
    to_basic.extend(params);
    let res = submit(to_basic).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("The authentication type cannot change: 1 connection(s) use this service"));

    let res = submit(vec![
        ("name", "Keyed"),
        ("auth_type", "api_key"),
        ("param_name", "X-New"),
        ("param_display", "API Key"),
    ])
    .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("The parameter names cannot change"));

    let mut relabel = vec![("name", "Keyed Again"), ("auth_type", "api_key"), ("description", "Relabelled")];
    relabel.extend([
        ("param_name", "X-Api-Key"),
        ("param_display", "Secret key"),
        ("param_name", "X-Org-Id"),
        ("param_display", "Org"),
    ]);
    let res = submit(relabel).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let s = api.get("/api/v1/services/keyed").await.json();
    assert_eq!((s["name"].as_str(), s["description"].as_str()), (Some("Keyed Again"), Some("Relabelled")));
    assert_eq!(s["api_key"]["params"][0]["display_name"], "Secret key");

    api.create("/api/v1/services", &zoho_service("zoho", "Zoho", "s")).await;
    insert_connection(&app, "zoho", "zoho_one", "Zoho One").await;
    let mut fields = zoho_form("");
    fields.retain(|(k, _)| !matches!(*k, "link_name" | "scope_display"));
    fields.extend([
        ("scope_display", "Tickets (read)"),
        ("scope_display", "Contacts (read)"),
        ("scope_display", ""),
    ]);
    let mut grant = fields.clone();
    grant.extend([("grant_type", "client_credentials")]);
    let res = send_form(&admin, "/admin/services/zoho/edit", "/admin/services/zoho", &form(&grant)).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains(r#"id="grant_type-err">The grant type cannot change"#));
    let res = send_form(&admin, "/admin/services/zoho/edit", "/admin/services/zoho", &form(&fields)).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = admin.get("/admin/services/zoho").await;
    assert!(page.body.contains("<li><code>Desk.tickets.READ</code> — Tickets (read)</li>"));
    assert!(
        page.body.contains("Zoho One") && page.body.contains("Not connected"),
        "the connections are listed with their status"
    );
}

// ---------------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_a_service_with_connections_is_refused_with_their_names_and_works_once_they_are_gone() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &zoho_service("zoho", "Zoho", "s")).await;
    insert_connection(&app, "zoho", "zoho_helpdesk", "Helpdesk sync").await;

    let confirm = admin.get("/admin/services/zoho/delete").await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("“Zoho” cannot be deleted"));
    assert!(confirm.body.contains("Helpdesk sync") && confirm.body.contains("zoho_helpdesk"));
    assert!(!confirm.body.contains("Delete service"));

    let res = admin.submit("/admin/services/zoho", "/admin/services/zoho/delete", &[]).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains(
        "This service cannot be deleted while connections use it. \
             Delete these first: Helpdesk sync (zoho_helpdesk)."
    ));
    assert_eq!(counts(&app).await, (1, 1, 1));

    let list = admin.get("/admin/services").await;
    assert!(
        list.body.contains(r#"<td class="num" data-label="Connections">1</td>"#),
        "the list counts connections"
    );

    delete_connection(&app, "zoho_helpdesk").await;
    let dialog = admin
        .send(
            app.http()
                .get(format!("{}/admin/services/zoho/delete", app.base))
                .header("HX-Request", "true")
                .header("HX-Target", "dialog-slot"),
        )
        .await;
    assert!(
        dialog.body.starts_with("\n<dialog") || dialog.body.trim_start().starts_with("<dialog"),
        "{}",
        dialog.body
    );
    assert!(dialog.body.contains("Delete service") && !dialog.body.contains("<html"));
    let res = admin.submit("/admin/services/zoho", "/admin/services/zoho/delete", &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), "/admin/services");
    let list = admin.get("/admin/services").await;
    assert!(list.body.contains("Service “Zoho” deleted.") && list.body.contains("No custom services yet"));
    assert_eq!(admin.get("/admin/services/zoho").await.status, 404);
    let rows = audit_rows(&app).await;
    assert_eq!(rows.last().map(|(a, t, _)| (a.as_str(), t.as_str())), Some(("service.delete", "zoho")));
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

/// The link names of the list's rows, in order.
fn rows(body: &str) -> Vec<String> {
    body.split(r#"<tr data-link-name=""#).skip(1).map(|s| s.split('"').next().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_list_searches_filters_and_sorts_with_the_state_in_the_url() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let api = Api::admin(&app).await;
    assert!(admin.get("/admin/services").await.body.contains("No custom services yet"), "the empty state");
    seed_search_fixtures(&api).await;

    let page = admin.get("/admin/services").await;
    assert_eq!(page.status, 200);
    assert_eq!(rows(&page.body).len(), 10);
    for text in
        ["Zoho Desk", "zoho_desk", "OAuth2", "API Key", "Basic Authentication", "by admin", "Create Service"]
    {
        assert!(page.body.contains(text), "{text}");
    }
    assert!(
        page.body.contains(r#"href="/admin/services/zendesk/edit""#)
            && page.body.contains(r#"href="/admin/connections/new?service=zendesk""#)
    );
    assert!(
        page.body.contains(r#"hx-get="/admin/services/zendesk/delete""#),
        "hover actions: edit, create connection, delete"
    );

    assert_eq!(rows(&admin.get("/admin/services?q=DESK").await.body), ["freshdesk", "zendesk", "zoho_desk"]);
    assert_eq!(
        rows(&admin.get("/admin/services?q=de&auth_type=api_key").await.body),
        ["freshdesk", "zendesk"]
    );
    assert_eq!(rows(&admin.get("/admin/services?q=m%C3%BCn").await.body), ["munchen"]);
    assert_eq!(rows(&admin.get("/admin/services?q=%25").await.body), ["percent"]);
    assert_eq!(rows(&admin.get("/admin/services?auth_type=oauth2").await.body), ["zoho_desk"]);
    assert_eq!(
        rows(&admin.get("/admin/services?q=desk&sort=-name").await.body),
        ["zoho_desk", "zendesk", "freshdesk"]
    );
    let nothing = admin.get("/admin/services?q=nothing%20here").await;
    assert!(nothing.body.contains("No services match") && nothing.body.contains("“nothing here”"));
    let searched = admin.get("/admin/services?q=desk&auth_type=api_key&sort=-name").await;
    assert!(searched.body.contains(r#"value="desk""#), "the search box keeps the needle");
    assert!(
        searched.body.contains(r#"<option value="api_key" selected>"#)
            && searched.body.contains(r#"<option value="-name" selected>"#)
    );
    assert_eq!(
        admin.get("/admin/services?q=%00desk").await.status,
        422,
        "control characters are refused at the edge"
    );
    assert_eq!(admin.get("/admin/services/%00").await.status, 404);
    assert_eq!(admin.get("/admin/services/zoho_desk%00/edit").await.status, 404);
    // Unknown values fall back to defaults instead of failing.
    assert_eq!(admin.get("/admin/services?auth_type=bogus&sort=bogus&page=x&per_page=7").await.status, 200);
}

#[tokio::test]
async fn the_list_sorts_by_name_and_last_update_from_its_column_links() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let api = Api::admin(&app).await;
    for (link, name) in [("bravo", "bravo"), ("alpha", "Alpha"), ("charlie", "CHARLIE")] {
        api.create(
            "/api/v1/services",
            &serde_json::json!({"name": name, "link_name": link, "auth_type": "basic"}),
        )
        .await;
        app.clock.advance(60);
    }
    let page = admin.get("/admin/services").await;
    assert_eq!(rows(&page.body), ["alpha", "bravo", "charlie"]);
    assert!(page.body.contains(concat!(
        r#"class="sort-asc" aria-sort="ascending">"#,
        r#"<a href="/admin/services?sort=-name&#38;page=1&#38;per_page=25""#
    )));
    assert_eq!(rows(&admin.get("/admin/services?sort=-name").await.body), ["charlie", "bravo", "alpha"]);
    let newest = admin.get("/admin/services?sort=-updated").await;
    assert_eq!(rows(&newest.body), ["charlie", "alpha", "bravo"]);
    assert!(newest.body.contains(concat!(
        r#"aria-sort="descending">"#,
        r#"<a href="/admin/services?sort=updated&#38;page=1&#38;per_page=25">Last Updated"#
    )));
    assert_eq!(rows(&admin.get("/admin/services?sort=updated").await.body), ["bravo", "alpha", "charlie"]);
}

#[tokio::test]
async fn the_list_pages_through_many_services() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    seed_many(&app, 130).await;
    let expected: Vec<String> = (0..130).map(|i| format!("service_{i:03}")).collect();

    let first = admin.get("/admin/services").await;
    assert_eq!(rows(&first.body), expected[..25]);
    assert!(first.body.contains("1–25 of 130"));
    assert!(
        first.body.contains(r#"href="/admin/services?sort=name&#38;page=2&#38;per_page=25""#),
        "a next link"
    );
    assert!(
        first.body.contains(r#"<a class="btn btn-secondary btn-sm" aria-disabled="true">‹ Previous</a>"#)
    );

    let third = admin.get("/admin/services?page=3&per_page=50").await;
    assert_eq!(rows(&third.body), expected[100..]);
    assert!(third.body.contains("101–130 of 130"));
    assert!(third.body.contains(r#"<option value="50" selected>"#));
    assert!(third.body.contains(r#"<a class="btn btn-secondary btn-sm" aria-disabled="true">Next ›</a>"#));
    assert!(third.body.contains(r#"href="/admin/services?sort=name&#38;page=2&#38;per_page=50""#));

    let hundred = admin.get("/admin/services?per_page=100&page=2").await;
    assert_eq!(rows(&hundred.body), expected[100..]);
    let searched = admin.get("/admin/services?q=service_1&per_page=25&page=2").await;
    assert_eq!(rows(&searched.body), expected[125..]);
    assert!(searched.body.contains("26–30 of 30"));
    assert!(
        searched
            .body
            .contains(r#"href="/admin/services?q=service_1&#38;sort=name&#38;page=1&#38;per_page=25""#)
    );

    let beyond = admin.get("/admin/services?page=40").await;
    assert_eq!(beyond.status, 200);
    assert!(!beyond.body.contains("No custom services yet"), "there are services, just not on this page");
    assert!(beyond.body.contains("130"), "the total is shown");
    assert!(
        beyond.body.contains(r#"href="/admin/services?sort=name&#38;page=1&#38;per_page=25""#),
        "a way back"
    );
}

#[tokio::test]
async fn htmx_gets_only_the_results_block_and_everyone_else_the_whole_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    seed_search_fixtures(&Api::admin(&app).await).await;
    let url = format!("{}/admin/services?q=desk", app.base);
    let fragment = admin
        .send(app.http().get(&url).header("HX-Request", "true").header("HX-Target", "service-results"))
        .await;
    assert_eq!(fragment.status, 200);
    assert_eq!(rows(&fragment.body), ["freshdesk", "zendesk", "zoho_desk"]);
    assert!(
        fragment.body.trim_start().starts_with("<div class=\"card\">"),
        "{}",
        &fragment.body[..200.min(fragment.body.len())]
    );
    for absent in ["<html", "<nav class=\"sidebar\"", "id=\"service-q\"", "id=\"service-results\""] {
        assert!(!fragment.body.contains(absent), "the fragment holds {absent}");
    }
    assert!(fragment.header("vary").contains("HX-Request"));

    let empty = admin
        .send(
            app.http()
                .get(format!("{url}zzz"))
                .header("HX-Request", "true")
                .header("HX-Target", "service-results"),
        )
        .await;
    assert!(empty.body.contains("No services match") && !empty.body.contains("<html"));

    for headers in [
        vec![],
        vec![("HX-Request", "true")],
        vec![("HX-Request", "true"), ("HX-Target", "main")],
        vec![
            ("HX-Request", "true"),
            ("HX-Target", "service-results"),
            ("HX-History-Restore-Request", "true"),
        ],
    ] {
        let mut req = app.http().get(&url);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let full = admin.send(req).await;
        assert!(
            full.body.contains("<html") && full.body.contains("id=\"service-results\""),
            "{headers:?}: a whole page"
        );
        assert_eq!(rows(&full.body), ["freshdesk", "zendesk", "zoho_desk"]);
    }
}

// ---------------------------------------------------------------------------------------------
// Advanced Portal Settings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_alias_url_sets_the_callback_url_on_service_pages_and_in_the_api() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let api = Api::admin(&app).await;
    api.create("/api/v1/services", &zoho_service("zoho", "Zoho", "s")).await;
    let settings = admin.get("/admin/settings/portal").await;
    assert_eq!(settings.status, 200);
    assert!(settings.body.contains(&format!(r#"name="alias_url" value="{}""#, app.base)));
    assert!(settings.body.contains(&format!("{}/integration/oauth/callback", app.base)));

    let res = admin
        .submit(
            "/admin/settings/portal",
            "/admin/settings/portal",
            &[("alias_url", "  https://desk.example.com/portal/  ")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let callback = "https://desk.example.com/portal/integration/oauth/callback";
    let settings = admin.get("/admin/settings/portal").await;
    assert!(settings.body.contains("Advanced Portal Settings saved.") && settings.body.contains(callback));
    assert!(
        admin
            .get("/admin/services/zoho")
            .await
            .body
            .contains(&format!(r#"<code id="callback-url">{callback}</code>"#))
    );
    assert!(admin.get("/admin/services/zoho/edit").await.body.contains(callback));
    assert!(admin.get("/admin/services/new").await.body.contains(callback));
    assert_eq!(api.get("/api/v1/services/zoho").await.json()["callback_url"], callback);
    assert_eq!(api.get("/api/v1/services").await.json()["services"][0]["callback_url"], callback);

    for (bad, message) in [
        ("not a url", "absolute URL, such as https://desk.example.com"),
        ("desk.example.com", "absolute URL, such as https://desk.example.com"),
        ("ftp://desk.example.com", "absolute URL, such as https://desk.example.com"),
        ("https://user:pw@desk.example.com", "absolute URL, such as https://desk.example.com"),
        ("https://desk.example.com/?tenant=1", "Remove the query string and fragment."),
        ("https://desk.example.com/#top", "Remove the query string and fragment."),
        ("", "absolute URL, such as https://desk.example.com"),
    ] {
        let res =
            admin.submit("/admin/settings/portal", "/admin/settings/portal", &[("alias_url", bad)]).await;
        assert_eq!(res.status, 422, "{bad}");
        assert!(res.body.contains(message), "{bad}: {message}");
    }
    let long = format!("https://desk.example.com/{}", "a".repeat(2048));
    let res = admin.submit("/admin/settings/portal", "/admin/settings/portal", &[("alias_url", &long)]).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("Use at most 2048 characters."));
    assert_eq!(
        api.get("/api/v1/services/zoho").await.json()["callback_url"],
        callback,
        "unchanged by the refusals"
    );
    let changes: i64 = app
        .state
        .db
        .run(|c| {
            use connections::db::schema::audit_log;
            use diesel::prelude::*;
            Ok(audit_log::table.filter(audit_log::action.eq("settings.update")).count().get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(changes, 1);
}

#[tokio::test]
async fn a_framing_header_is_refused_as_an_api_key_or_token_header_on_the_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let keyed = [
        ("name", "Keyed"),
        ("link_name", "keyed"),
        ("auth_type", "api_key"),
        ("param_type", "header"),
        ("param_name", "Transfer-Encoding"),
        ("param_display", "The key"),
    ];
    let res = create_via_form(&admin, &keyed).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("Transfer-Encoding cannot carry a credential"), "{}", res.body);
    let mut oauth = zoho_form("s");
    oauth.retain(|(k, _)| *k != "token_header_name");
    oauth.push(("token_header_name", "Host"));
    let res = create_via_form(&admin, &oauth).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body.contains(r#"id="token_header_name-err">Host cannot carry a credential"#),
        "{}",
        res.body
    );
    assert_eq!(counts(&app).await, (0, 0, 0));
}
