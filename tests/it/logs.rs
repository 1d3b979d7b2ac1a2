//! Logs and request ids: every answer carries `X-Request-Id` (the caller's when it is a sane token,
//! ours otherwise), the log lines written while serving a request name it, `CONNECTIONS_LOG_FORMAT=json`
//! writes one JSON object per line, and text written to a file carries no terminal colour codes.

use std::fs::File;

use serde_json::Value;

use crate::support::{
    ADMIN_PASSWORD, Browser, TEST_KEYS, TestApp, TestDb, serve_logging_to, terminate, url_of,
};

/// The characters a request id of ours may have (those of a sane caller's id).
fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[tokio::test]
async fn every_answer_carries_a_request_id_the_callers_when_it_is_sane_and_ours_otherwise() {
    let app = TestApp::spawn().await;
    let id_for = async |given: Option<&str>, path: &str| {
        let mut req = app.http().get(format!("{}{path}", app.base));
        if let Some(given) = given {
            req = req.header("x-request-id", given);
        }
        let res = req.send().await.unwrap();
        let id = res.headers().get("x-request-id").unwrap_or_else(|| panic!("no X-Request-Id on {path}"));
        id.to_str().unwrap().to_owned()
    };
    assert_eq!(id_for(Some("job-42.run_7"), "/healthz").await, "job-42.run_7");
    let longest = "L".repeat(64);
    assert_eq!(id_for(Some(&longest), "/healthz").await, longest);
    for insane in ["two words", &"x".repeat(65), "<b>bold</b>", "a\"b", "a=b;c"] {
        let got = id_for(Some(insane), "/healthz").await;
        assert!(got != insane && sane(&got), "{insane:?} replaced by one of ours, not {got:?}");
    }
    let (first, second) = (id_for(None, "/healthz").await, id_for(None, "/healthz").await);
    assert!(sane(&first) && sane(&second) && first != second, "{first} {second}");
    // Error answers too: a page that does not exist, an API call without a token, a form.
    for path in ["/no-such-page", "/api/v1/me", "/login"] {
        assert_eq!(id_for(Some("trace-1"), path).await, "trace-1", "{path}");
    }
}

/// Starts the binary with `env` and its log in a file, signs in once with a wrong password (request
/// id `wrong-password-1`) and once with the right one (`right-password-1`), stops it with SIGTERM
/// and returns its log.
async fn sign_in_twice_and_read_the_log(env: &[(&str, &str)]) -> String {
    let db = TestDb::new();
    let log_path = db.dir.path().join("connections.log");
    let mut env = env.to_vec();
    env.extend([("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS), ("CONNECTIONS_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let (mut child, lines) = serve_logging_to(&db, &env, File::create(&log_path).unwrap());
    let url = url_of(&lines);
    let refused = Browser::new(&url)
        .with_request_id("wrong-password-1")
        .sign_in("admin", "not the password at all")
        .await;
    assert_ne!(refused.status, 303, "a wrong password is refused");
    let accepted =
        Browser::new(&url).with_request_id("right-password-1").sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(accepted.headers["x-request-id"], "right-password-1");
    assert_eq!(terminate(&mut child).code(), Some(0));
    std::fs::read_to_string(&log_path).unwrap()
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_each_line_of_a_request_names_it() {
    let log =
        sign_in_twice_and_read_the_log(&[("CONNECTIONS_LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    let entries: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let requests_of = |message: &str| -> Vec<Value> {
        entries.iter().filter(|e| e["message"] == message).map(|e| e["span"]["request_id"].clone()).collect()
    };
    assert_eq!(requests_of("failed sign-in"), ["wrong-password-1"], "{log}");
    assert_eq!(requests_of("signed in"), ["right-password-1"], "{log}");
    assert_eq!(requests_of("stopped"), [Value::Null], "a line outside any request names none: {log}");
    assert!(!log.contains('\u{1b}'), "no terminal colour codes: {log}");
}

#[tokio::test]
async fn text_logs_written_to_a_file_have_no_colour_codes_and_each_line_of_a_request_names_it() {
    let log = sign_in_twice_and_read_the_log(&[("RUST_LOG", "info")]).await;
    assert!(!log.contains('\u{1b}'), "no terminal colour codes: {log}");
    let line_of = |message: &str| {
        log.lines().find(|l| l.contains(message)).unwrap_or_else(|| panic!("no {message:?} line in {log}"))
    };
    assert!(line_of("failed sign-in").contains("request_id=wrong-password-1"), "{log}");
    assert!(line_of(" signed in").contains("request_id=right-password-1"), "{log}");
}

#[test]
fn an_unknown_log_format_is_refused_by_name() {
    let db = TestDb::new();
    let out = crate::support::run_to_end(
        crate::support::command(&db).arg("user").arg("list").env("CONNECTIONS_LOG_FORMAT", "xml"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CONNECTIONS_LOG_FORMAT") && stderr.contains("\"xml\""), "{stderr}");
}
