//! The transparent proxy, `ANY /api/v1/connections/{link}/proxy/{path…}`, against loopback
//! upstreams: every method with its path, query and body; credentials injected as each service
//! says; the caller's token, cookies and hop-by-hop headers never forwarded and the upstream's
//! `Set-Cookie` and hop-by-hop headers never returned; confinement and the address policy (the
//! invoke cases, sent as raw request lines so that no client tidies them first); restricted tokens;
//! the activity record and the metrics.

use std::io::{Read, Write};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    Api, ProxyEnv, StreamUpstream, TestApp, api_key_service, assert_hidden, basic_service, canary,
    connected_key_connection, connection, events, parse_exposition,
};

async fn env() -> ProxyEnv {
    ProxyEnv::start().await
}

#[tokio::test]
async fn every_method_goes_out_with_its_path_query_and_body_and_the_answer_comes_back_as_is() {
    let e = env().await;
    let key = e.key_connection("desk").await;
    let query = "a=1&b=x%20y&flag&list=1&list=2";
    for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let with_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
        let mut req = e.request(method.clone(), "desk", &format!("/items/42?{query}"));
        if with_body {
            req = req.header("content-type", "application/xml").body(format!("<item>{method}</item>"));
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{method}");
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        let got = e.up.last();
        assert_eq!((got.method.as_str(), got.path.as_str()), (method.as_str(), "/api/items/42"));
        assert_eq!(got.query, query, "{method}: the query string as the caller wrote it");
        assert_eq!(got.header_values("x-api-key"), std::slice::from_ref(&key), "{method}");
        assert_eq!(headers["x-upstream"], "kept", "{method}: the upstream's own headers come back");
        assert!(headers.get("set-cookie").is_none(), "{method}: but never its cookies");
        if with_body {
            assert_eq!(got.body.as_deref(), Some(format!("<item>{method}</item>").as_bytes()));
            assert_eq!(got.header_values("content-type"), ["application/xml"]);
        } else {
            assert_eq!(got.body_len, 0, "{method}");
        }
        if method == Method::HEAD {
            assert!(body.is_empty());
        } else {
            let echo: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(echo["method"], method.as_str());
            assert_eq!(echo["query"], query);
        }
    }
    // Not only 2xx: the upstream's status comes back too (a redirect is not followed).
    let res = e.request(Method::GET, "desk", "/download?bytes=3&chunked=1").send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.text().await.unwrap().as_str()), (200, "012"));
    let res = e.request(Method::DELETE, "desk", "/items/42/empty").send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.text().await.unwrap().as_str()), (204, ""));
    assert_eq!(e.up.received().len(), 9);
    // Each call ended well, the bodiless answers (HEAD's, the 204) too.
    let recorded: Vec<(Option<String>, bool, Option<String>)> =
        events(&e.app, "desk").await.into_iter().map(|ev| (ev.method, ev.ok, ev.message)).collect();
    assert_eq!(recorded.len(), 9, "{recorded:?}");
    assert!(recorded.iter().all(|(_, ok, message)| *ok && message.is_none()), "{recorded:?}");
}

#[tokio::test]
async fn basic_and_query_string_credentials_are_injected_and_the_callers_same_names_replaced() {
    let e = env().await;
    let mut service = basic_service("legacy");
    service["api_base_url"] = format!("{}/api", e.up.url).into();
    e.api.create("/api/v1/services", &service).await;
    e.api.create("/api/v1/connections", &connection("legacy", "legacy", &[])).await;
    let password = canary("password");
    let body = json!({"username": "svc", "password": password});
    assert_eq!(e.api.put("/api/v1/connections/legacy/credentials", &body).await.status, 200);
    let res = e.request(Method::GET, "legacy", "/me").send().await.unwrap();
    assert_eq!(res.status(), 200);
    use base64::Engine;
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("svc:{password}")));
    assert_eq!(
        e.up.last().header_values("authorization"),
        [basic],
        "the connection's, not the caller's token"
    );
    let echo = res.text().await.unwrap();
    assert_hidden(&echo, &[password.clone(), format!("svc:{password}")], "the echoed request");

    let mut service = api_key_service("inquery");
    service["api_key"]["param_type"] = "query".into();
    service["api_key"]["params"] =
        json!([{"name": "api_key", "display_name": "Key"}, {"name": "org", "display_name": "Org"}]);
    service["api_base_url"] = format!("{}/api", e.up.url).into();
    e.api.create("/api/v1/services", &service).await;
    e.api.create("/api/v1/connections", &connection("inquery", "inquery", &[])).await;
    let key = canary("key");
    let body = json!({"params": {"api_key": key, "org": "7"}});
    assert_eq!(e.api.put("/api/v1/connections/inquery/credentials", &body).await.status, 200);
    let res = e.request(Method::GET, "inquery", "/search?q=a+b&API_KEY=forged").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(e.up.last().query, format!("q=a+b&api_key={key}&org=7"));
    let echo = res.text().await.unwrap();
    assert!(echo.contains("api_key=[redacted]"), "{echo}");
    assert_hidden(&echo, &[key], "the echoed query");
}

/// A raw upstream: it keeps the request head as it arrived and answers with hop-by-hop headers,
/// cookies and one header its `Connection` names.
fn raw_upstream() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (heads, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
            let answer = "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\
                          Proxy-Authenticate: Basic\r\nSet-Cookie: a=b; Path=/\r\nSet-Cookie: c=d\r\n\
                          Content-Security-Policy: default-src *\r\nX-Kept: yes\r\nContent-Type: text/plain\r\n\
                          Content-Length: 2\r\n\r\nok";
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, received)
}

#[tokio::test]
async fn the_callers_token_cookies_and_hop_by_hop_headers_stay_behind_and_so_do_the_upstreams() {
    let e = env().await;
    let (url, heads) = raw_upstream();
    let key = connected_key_connection(&e.api, "raw", &format!("{url}/api")).await;
    let res = e
        .request(Method::GET, "raw", "/x")
        .header("connection", "keep-alive, x-trace")
        .header("x-trace", "named in Connection")
        .header("keep-alive", "timeout=9")
        .header("proxy-authorization", "Basic cHJveHk6cHc=")
        .header("te", "trailers")
        .header("cookie", "connections_session=stolen")
        .header("accept-encoding", "gzip")
        .header("x-api-key", "forged")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let head = heads.recv_timeout(std::time::Duration::from_secs(5)).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /api/x http/1.1\r\n"), "{head}");
    for gone in [
        "x-trace",
        "keep-alive",
        "proxy-authorization",
        "te:",
        "cookie",
        "accept-encoding",
        "forged",
        "bearer",
        &e.token.to_ascii_lowercase(),
    ] {
        assert!(!head.contains(gone), "{gone} went upstream: {head}");
    }
    assert!(head.contains(&format!("x-api-key: {}\r\n", key.to_ascii_lowercase())), "{head}");
    assert!(head.contains("x-custom: kept\r\n"), "{head}");

    let headers = res.headers().clone();
    for gone in ["x-hop", "keep-alive", "proxy-authenticate", "set-cookie"] {
        assert!(headers.get(gone).is_none(), "{gone} came back: {headers:?}");
    }
    assert_eq!(headers["x-kept"], "yes");
    assert!(
        headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'self'"),
        "ours applies"
    );
    assert_eq!(res.text().await.unwrap(), "ok");
}

/// Sends a raw request line through the proxy (no client tidies `..` or `%2e` first) and returns the
/// status and body.
fn raw_request(base: &str, token: &str, target: &str) -> (u16, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn paths_that_would_leave_the_api_base_url_are_refused_before_any_request() {
    let e = env().await;
    e.key_connection("desk").await;
    let (base, token) = (e.app.base.clone(), e.token.clone());
    let prefix = "/api/v1/connections/desk/proxy";
    let hostile = [
        "/../admin",
        "/items/../../admin",
        "/%2e%2e/admin",
        "/%2E%2e/admin",
        "/..%2fadmin",
        "/items%2F..%2F..%2Fadmin",
        "/a%5c..%5cb",
        "/..;x/admin",
        "/%252e%252e/admin",
        "//evil.example/x",
        "/a//b",
    ];
    for path in hostile {
        let target = format!("{prefix}{path}");
        let (status, body) = tokio::task::spawn_blocking({
            let (base, token) = (base.clone(), token.clone());
            move || raw_request(&base, &token, &target)
        })
        .await
        .unwrap();
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body.contains(r#""errors":{"path":["#), "{path}: {body}");
    }
    assert!(e.up.received().is_empty(), "nothing left: {:?}", e.up.received());
    // Under the base the request goes out, `.` segments and all.
    let res = e.request(Method::GET, "desk", "/x/./y").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(e.up.last().path, "/api/x/y");
}

#[tokio::test]
async fn a_service_without_an_api_base_url_cannot_be_proxied() {
    let e = env().await;
    e.api.create("/api/v1/services", &api_key_service("anywhere")).await;
    e.api.create("/api/v1/connections", &connection("anywhere", "anywhere", &[])).await;
    let body = json!({"params": {"X-Api-Key": canary("key"), "X-Org-Id": "org-1"}});
    assert_eq!(e.api.put("/api/v1/connections/anywhere/credentials", &body).await.status, 200);
    let res = e.request(Method::GET, "anywhere", "/x").send().await.unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid");
    assert!(body["errors"]["service"][0].as_str().unwrap().contains("no API base URL"), "{body}");
    assert!(e.up.received().is_empty());
}

/// Loopback targets are refused without the allow-list, however the service's URL writes them.
/// (Private, link-local and other internal ranges are checked on the classifier in
/// `outbound::tests`, without sending anything.)
#[tokio::test]
async fn loopback_addresses_are_refused_without_the_allow_list() {
    let up = StreamUpstream::start().await;
    let port = up.url.rsplit(':').next().unwrap().to_owned();
    let app = TestApp::spawn_with(|config| config.outbound_allow_http = true).await;
    let token = app.token_for("admin").await;
    let api = Api::at(&app.base, &token);
    let hosts = [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("0x7f.1:{port}"),
        format!("localhost:{port}"),
    ];
    for (i, host) in hosts.iter().enumerate() {
        let link = format!("open{i}");
        connected_key_connection(&api, &link, &format!("http://{host}/api")).await;
        let res = reqwest::Client::new()
            .get(format!("{}/api/v1/connections/{link}/proxy/meta-data", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{host}");
        let body: Value = res.json().await.unwrap();
        assert!(body["errors"]["url"][0].as_str().unwrap().contains("internal"), "{host}: {body}");
        let events = events(&app, &link).await;
        assert_eq!(events.len(), 1, "the attempt is on the record");
        assert!(events[0].kind == "proxy" && !events[0].ok && events[0].status.is_none(), "{events:?}");
    }
    assert!(up.received().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn a_restricted_token_may_proxy_its_own_connection_only() {
    let e = env().await;
    e.key_connection("desk").await;
    e.key_connection("other").await;
    let created = e.api.create("/api/v1/tokens", &json!({"label": "script", "connections": ["desk"]})).await;
    let script = created["token"].as_str().unwrap().to_owned();
    let call = |link: &str| reqwest::Client::new().get(e.url(link, "/items")).bearer_auth(&script).send();
    assert_eq!(call("desk").await.unwrap().status(), 200);
    for link in ["other", "ghost"] {
        let res = call(link).await.unwrap();
        assert_eq!(res.status(), 403, "{link}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["message"], "This token may only invoke: desk.", "{link}");
    }
    assert_eq!(e.up.received().len(), 1);
    // Without a token, or with a technician's: nothing.
    let res = reqwest::Client::new().get(e.url("desk", "/items")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(e.up.received().len(), 1);
}

#[tokio::test]
async fn a_connection_that_is_not_connected_or_does_not_exist_is_refused() {
    let e = env().await;
    let mut service = api_key_service("svc");
    service["api_base_url"] = format!("{}/api", e.up.url).into();
    e.api.create("/api/v1/services", &service).await;
    e.api.create("/api/v1/connections", &connection("svc", "fresh", &[])).await;
    let res = e.request(Method::POST, "fresh", "/x").body("data").send().await.unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["status"].as_str()),
        (Some("not_connected"), Some("not_connected"))
    );
    assert_eq!(e.request(Method::GET, "ghost", "/x").send().await.unwrap().status(), 404);
    assert!(e.up.received().is_empty());
}

#[tokio::test]
async fn every_call_is_recorded_with_its_bytes_and_counted_in_the_metrics() {
    let e = ProxyEnv::start_with(|config| {
        config.metrics_token = Some(connections::crypto::Secret::new("metrics-token-0123456789"))
    })
    .await;
    e.key_connection("desk").await;
    let res =
        e.request(Method::PUT, "desk", "/items/7?secret=query").body(vec![b'z'; 1000]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let received = res.bytes().await.unwrap().len() as i64;
    let res = e.request(Method::GET, "desk", "/refuse").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("connections-token-refreshed").is_none(), "no token to refresh: as it came");
    res.bytes().await.unwrap();

    let events = events(&e.app, "desk").await;
    assert_eq!(events.len(), 2, "{events:?}");
    let (put, refused) = (&events[0], &events[1]);
    assert_eq!(put.kind, "proxy");
    assert_eq!(put.method.as_deref(), Some("PUT"));
    assert_eq!(put.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(put.path.as_deref(), Some("/api/items/7"), "the path without its query");
    assert_eq!((put.status, put.ok), (Some(200), true));
    assert_eq!((put.request_bytes, put.response_bytes), (Some(1000), Some(received)));
    assert_eq!((refused.status, refused.ok), (Some(401), false));

    let page = e.app.admin().await.get("/admin/connections/desk").await;
    assert!(page.body.contains("Proxy"), "{}", page.body);
    assert!(page.body.contains("1000 B ↑"), "{}", page.body);

    let scraped = reqwest::Client::new()
        .get(format!("{}/metrics", e.app.base))
        .bearer_auth("metrics-token-0123456789")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metrics = parse_exposition(&scraped).unwrap_or_else(|err| panic!("{err}\n{scraped}"));
    let count = |class| {
        metrics.value("connections_proxy_calls_total", &[("service", "desk"), ("status_class", class)])
    };
    assert_eq!((count("2xx"), count("4xx")), (Some(1.0), Some(1.0)));
    assert_eq!(metrics.value("connections_proxy_duration_seconds_count", &[("service", "desk")]), Some(2.0));
    assert!(metrics.all("connections_invokes_total").is_empty(), "a proxy call is not an invoke");
}
