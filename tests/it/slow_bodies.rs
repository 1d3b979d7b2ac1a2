//! Request bodies that trickle: after the head, a body must arrive in full within
//! `request_body_timeout_secs`, or the request is answered 408 and the connection closed; a body
//! nobody reads ends the connection after the answer instead of being drained for ever.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ADMIN_PASSWORD, TestApp};

async fn app_with_one_second() -> TestApp {
    TestApp::spawn_with(|config| config.request_body_timeout_secs = 1).await
}

/// Sends `head` and the start of a body, then nothing more; returns everything the app answered up
/// to the connection's end. A guard of 20 seconds keeps a regression from hanging the suite.
async fn send_and_stall(app: &TestApp, head: String, start: &str) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(start.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the app neither answered nor closed the connection: {}",
        String::from_utf8_lossy(&answer)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_form_body_that_trickles_is_answered_408_and_the_connection_closed() {
    let app = app_with_one_second().await;
    let head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n";
    let answer = send_and_stall(&app, head.into(), "username=adm").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(
        answer.contains("took too long") && answer.contains("nosniff"),
        "a page with the security headers: {answer}"
    );

    let chunked = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
    let answer = send_and_stall(&app, chunked.into(), "5\r\nusern\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_json_body_that_trickles_gets_a_json_408() {
    let app = app_with_one_second().await;
    let token = app.token_for("admin").await;
    let head = format!(
        "POST /api/v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    );
    let answer = send_and_stall(&app, head, "{\"name\": \"Slo").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    let (services,): (i64,) = {
        let res =
            app.http().get(format!("{}/api/v1/services", app.base)).bearer_auth(&token).send().await.unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        (body["total"].as_i64().unwrap(),)
    };
    assert_eq!(services, 0, "nothing written");
}

#[tokio::test]
async fn a_body_that_arrives_in_time_is_read_as_usual() {
    let app = app_with_one_second().await;
    let browser = app.browser();
    assert_eq!(browser.sign_in("admin", ADMIN_PASSWORD).await.status, 303);
}

#[tokio::test]
async fn a_chunked_body_nobody_reads_ends_the_connection_after_the_answer() {
    let app = app_with_one_second().await;
    let head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let answer = send_and_stall(&app, head.into(), "5\r\nhello\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
}
