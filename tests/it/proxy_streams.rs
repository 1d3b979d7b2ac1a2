//! The proxy's bodies: large ones stream both ways (with and without a declared length) and arrive
//! whole; an echoed secret is masked in headers and in text even when it straddles two pieces, and a
//! binary body passes unmasked; a slow upstream is a 504 and one that stalls mid-body is cut off;
//! and the process's memory stays flat while hundreds of MiB pass.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use sha2::Digest;

use crate::support::{
    Api, PatternBody, ProxyEnv, SlowBody, StreamUpstream, TEST_KEYS, TestDb, command,
    connected_key_connection, events, pattern_sha256, serve, url_of,
};

/// Reads an answer's body piece by piece: its length and SHA-256.
async fn digest(mut res: reqwest::Response) -> (u64, String) {
    let mut hash = sha2::Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = res.chunk().await.expect("the body arrives whole") {
        len += chunk.len() as u64;
        hash.update(&chunk);
    }
    (len, hex::encode(hash.finalize()))
}

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn large_bodies_stream_both_ways_with_or_without_a_declared_length() {
    let e = ProxyEnv::start().await;
    e.key_connection("desk").await;
    for (bytes, declared) in [(40 * MIB, true), (24 * MIB + 7, false)] {
        let res = e
            .request(Method::PUT, "desk", "/upload")
            .body(PatternBody::body(bytes, declared))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let echo: Value = res.json().await.unwrap();
        assert_eq!(echo["body_len"], bytes);
        let got = e.up.last();
        assert_eq!((got.body_len, got.body_sha256.clone()), (bytes, pattern_sha256(bytes)), "arrived whole");
        match declared {
            true => assert_eq!(got.header_values("content-length"), [bytes.to_string()], "not chunked"),
            false => assert_eq!(got.header_values("transfer-encoding"), ["chunked"]),
        }
    }
    for (bytes, query) in [
        (64 * MIB, "bytes={}".to_owned()),
        (32 * MIB + 3, "bytes={}&chunked=1".to_owned()),
        (32 * MIB, "bytes={}&type=text/plain".to_owned()),
    ] {
        let query = query.replace("{}", &bytes.to_string());
        let res = e.request(Method::GET, "desk", &format!("/download?{query}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let declared = res.headers().get("content-length").map(|v| v.to_str().unwrap().to_owned());
        let binary = !query.contains("text/plain");
        let expected = if binary && !query.contains("chunked") { Some(bytes.to_string()) } else { None };
        assert_eq!(declared, expected, "{query}: the length passes when the body passes unchanged");
        assert_eq!(digest(res).await, (bytes, pattern_sha256(bytes)), "{query}");
    }
    let recorded: Vec<(Option<i64>, Option<i64>)> =
        events(&e.app, "desk").await.iter().map(|ev| (ev.request_bytes, ev.response_bytes)).collect();
    assert_eq!(recorded[0].0, Some(40 * MIB as i64));
    assert_eq!(recorded[2].1, Some(64 * MIB as i64));
    assert_eq!(recorded.len(), 5);
}

#[tokio::test]
async fn a_secret_echoed_across_two_pieces_is_masked_in_text_and_binary_passes_unmasked() {
    let e = ProxyEnv::start().await;
    let key = e.key_connection("desk").await;
    for kind in ["text/plain", "application/json", "application/problem%2Bjson", "text/xml"] {
        let res = e.request(Method::GET, "desk", &format!("/split-echo?type={kind}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "before [redacted] after", "{kind}");
    }
    // Pieces the client sees are the upstream's: the key really was cut in two on the way.
    let res =
        e.request(Method::GET, "desk", "/split-echo?type=application/octet-stream").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), format!("before {key} after"), "binary is not masked (documented)");

    // In headers, and in a JSON echo of the request.
    let res = e.request(Method::GET, "desk", "/echo").send().await.unwrap();
    assert_eq!(res.headers()["x-echo-api-key"], "[redacted]");
    let body = res.text().await.unwrap();
    assert!(!body.contains(&key) && body.contains("[redacted]"), "{body}");
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_after_the_proxy_timeout_and_a_stalled_body_is_cut_off() {
    let e = ProxyEnv::start_with(|config| config.proxy_timeout_secs = 1).await;
    e.key_connection("desk").await;
    let started = Instant::now();
    let res = e.request(Method::GET, "desk", "/slow").send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "gave up at the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), 504);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_timeout");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("The upstream did not answer within 1 s ("), "{message}");

    let started = Instant::now();
    let mut res = e.request(Method::GET, "desk", "/stall").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut got = Vec::new();
    let cut = loop {
        match res.chunk().await {
            Ok(Some(piece)) => got.extend_from_slice(&piece),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(cut, "the caller sees a body that did not end: {:?}", String::from_utf8_lossy(&got));
    assert_eq!(got, b"first piece");
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
    let events = events(&e.app, "desk").await;
    assert_eq!(events.len(), 2);
    assert!(events[0].message.as_deref().unwrap().contains("did not answer within 1 s"), "{events:?}");
    assert_eq!((events[0].status, events[0].ok), (None, false));
    assert_eq!((events[1].status, events[1].ok), (Some(200), false));
    assert!(events[1].message.as_deref().unwrap().contains("sent nothing for 1 s"), "{events:?}");
}

/// Sends a request head declaring a body of `declared` bytes, then only `sent` of them, and reads
/// the answer's status line.
fn stalled_upload(base: &str, token: &str, declared: usize, sent: usize) -> String {
    use std::io::{BufRead, Write};
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "PUT /api/v1/connections/desk/proxy/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&vec![b'x'; sent]).unwrap();
    let mut status = String::new();
    std::io::BufReader::new(stream).read_line(&mut status).unwrap();
    status
}

#[tokio::test]
async fn a_callers_body_that_stalls_is_a_408_whether_it_was_being_kept_or_streamed() {
    let e = ProxyEnv::start_with(|config| config.proxy_timeout_secs = 1).await;
    e.key_connection("desk").await;
    for (declared, sent) in [(10_000, 5_000), (4 * MIB as usize, 300_000)] {
        let started = Instant::now();
        let (base, token) = (e.app.base.clone(), e.token.clone());
        let status =
            tokio::task::spawn_blocking(move || stalled_upload(&base, &token, declared, sent)).await.unwrap();
        assert!(status.starts_with("HTTP/1.1 408"), "{declared}: {status}");
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }
    let events = events(&e.app, "desk").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|ev| !ev.ok && ev.message.as_deref().is_some_and(|m| m.contains("took too long"))),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_upload_may_take_longer_than_the_timeout_while_it_flows_but_not_while_the_upstream_takes_none() {
    let e = ProxyEnv::start_with(|config| config.proxy_timeout_secs = 1).await;
    e.key_connection("desk").await;
    // 2.4 s of upload, a piece every 120 ms: the wait for the answer starts once it has all gone.
    let res = e
        .request(Method::POST, "desk", "/upload")
        .body(SlowBody::body(20, Duration::from_millis(120)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["body_len"], 20 * 65_536);

    // An upstream that reads none of a large body: the socket buffers fill, then the proxy gives up.
    let started = Instant::now();
    let res = e.request(Method::POST, "desk", "/hold").body(PatternBody::body(256 * MIB, true)).send().await;
    let elapsed = started.elapsed();
    if let Ok(res) = res {
        assert_eq!(res.status(), 504);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains("took none of the request body"),
            "{body}"
        );
    }
    assert!(elapsed < Duration::from_secs(7), "before the upstream's late answer (8 s): {elapsed:?}");
    let events = events(&e.app, "desk").await;
    assert!(
        events[1].message.as_deref().unwrap().contains("took none of the request body for 1 s"),
        "{events:?}"
    );
}

/// A process's resident memory now and at its peak, in KiB, from `/proc/{pid}/status`.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {status}"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The app as its own process, so that its memory is its own: a 1 GiB download and hundreds of MiB
/// more through the proxy, and its peak resident memory grows by a few MiB at most.
#[tokio::test]
async fn a_gib_passes_while_the_apps_memory_stays_flat() {
    let db = TestDb::new();
    let up = StreamUpstream::start().await;
    let env = [
        ("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS),
        ("CONNECTIONS_ADMIN_PASSWORD", "admin-password-for-memory"),
        ("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", "127.0.0.1/32"),
        ("CONNECTIONS_OUTBOUND_ALLOW_HTTP", "true"),
        ("CONNECTIONS_WORKERS", "1"),
    ];
    let (mut child, lines) = serve(&db, &env);
    let base = url_of(&lines);
    let created = command(&db).envs(env).args(["token", "create", "admin"]).output().unwrap();
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    let token =
        printed.lines().find(|l| l.starts_with("cn_")).unwrap_or_else(|| panic!("{printed}")).to_owned();
    let api = Api::at(&base, &token);
    connected_key_connection(&api, "desk", &format!("{}/api", up.url)).await;
    let http = reqwest::Client::new();
    let url = |rest: &str| format!("{base}/api/v1/connections/desk/proxy{rest}");
    // Warm up: the first calls allocate what every call reuses (clients, buffers, caches).
    for _ in 0..3 {
        let res =
            http.get(url(&format!("/download?bytes={}", 4 * MIB))).bearer_auth(&token).send().await.unwrap();
        digest(res).await;
        let body = PatternBody::body(4 * MIB, true);
        http.put(url("/upload")).bearer_auth(&token).body(body).send().await.unwrap().bytes().await.unwrap();
    }
    let (before, _) = memory(child.id());
    let started = Instant::now();
    let (down, text, up_bytes) = (1024 * MIB, 64 * MIB, 128 * MIB);
    let res = http.get(url(&format!("/download?bytes={down}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(digest(res).await, (down, pattern_sha256(down)));
    let res = http
        .get(url(&format!("/download?bytes={text}&type=text/plain")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(digest(res).await.0, text);
    let body = PatternBody::body(up_bytes, true);
    let res = http.put(url("/upload")).bearer_auth(&token).body(body).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["body_len"], up_bytes);
    let (_, peak) = memory(child.id());
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let grown_mib = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "{} MiB through the proxy in {elapsed:?}; peak RSS {grown_mib:.1} MiB over the start",
        (down + text + up_bytes) / MIB
    );
    assert!(grown_mib < 8.0, "the app's peak memory grew by {grown_mib:.1} MiB");
}
