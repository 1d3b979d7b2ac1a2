//! Unit tests of `oauth::answer`: each provider's documented answer shapes.

use serde_json::json;

use super::*;
use crate::domain::provider::TimeUnit;

fn cfg() -> OAuthConfig {
    crate::oauth::tests::cfg(" ")
}

fn ok(cfg: &OAuthConfig, status: u16, body: &str) -> TokenSet {
    read(cfg, status, body.as_bytes(), &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn err(cfg: &OAuthConfig, status: u16, body: &str) -> TokenError {
    match read(cfg, status, body.as_bytes(), &[]) {
        Ok(_) => panic!("{body} was taken for tokens"),
        Err(e) => e,
    }
}

#[test]
fn nested_fields_are_read_at_their_paths_and_at_the_top_level_when_missing() {
    let mut slack = cfg();
    slack.scope_delimiter = ",".into();
    slack.token_response.access_token = "authed_user.access_token".into();
    slack.token_response.refresh_token = "authed_user.refresh_token".into();
    slack.token_response.expires_in = "authed_user.expires_in".into();
    slack.token_response.scope = "authed_user.scope".into();
    let body = json!({"ok": true, "access_token": "xoxb-bot", "scope": "bot",
        "authed_user": {"access_token": "xoxp-user", "refresh_token": "xoxe-1", "expires_in": 43200,
                        "scope": "chat:write,users:read"}});
    let tokens = ok(&slack, 200, &body.to_string());
    assert_eq!(tokens.access_token.expose(), "xoxp-user");
    assert_eq!(tokens.refresh_token.unwrap().expose(), "xoxe-1");
    assert_eq!((tokens.expires_in, tokens.scope.as_deref()), (Some(43200), Some("chat:write,users:read")));
    let refreshed = ok(&slack, 200, r#"{"ok":true,"access_token":"xoxe.xoxp-2","expires_in":"43200"}"#);
    assert_eq!((refreshed.access_token.expose(), refreshed.expires_in), ("xoxe.xoxp-2", Some(43200)));
}

#[test]
fn expiry_in_milliseconds_and_scope_as_an_array_are_read() {
    let mut c = cfg();
    c.token_response.expires_in_unit = TimeUnit::Milliseconds;
    let t = ok(&c, 200, r#"{"access_token":"a","expires_in":"3600000","scope":["read","write"]}"#);
    assert_eq!((t.expires_in, t.scope.as_deref()), (Some(3600), Some("read write")));
    let t =
        ok(&cfg(), 200, r#"{"access_token":"a","expires_in":3600.0,"refresh_token_expires_in":15897600}"#);
    assert_eq!((t.expires_in, t.refresh_token_expires_in), (Some(3600), Some(15897600)));
}

#[test]
fn a_form_encoded_answer_is_read_whatever_its_content_type() {
    let t = ok(&cfg(), 200, "access_token=gho_1&scope=repo%2Cuser&token_type=bearer");
    assert_eq!((t.access_token.expose(), t.scope.as_deref()), ("gho_1", Some("repo,user")));
    let e = err(&cfg(), 200, "error=bad_refresh_token&error_description=The+refresh+token+is+bad");
    assert!(matches!(e, TokenError::InvalidGrant { ref error, .. } if error == "bad_refresh_token"), "{e}");
}

#[test]
fn each_providers_failure_answer_reaches_its_class() {
    let dead = [
        (200, r#"{"error":"bad_refresh_token","error_description":"incorrect or expired"}"#),
        (200, r#"{"ok":false,"error":"invalid_refresh_token"}"#),
        (400, r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}"#),
        (400, r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}"#),
        (400, r#"{"error":"invalid_grant"}"#),
    ];
    for (status, body) in dead {
        assert!(matches!(err(&cfg(), status, body), TokenError::InvalidGrant { .. }), "{body}");
    }
    let refused = [
        (200, r#"{"error":"incorrect_client_credentials"}"#),
        (200, r#"{"ok":false,"error":"bad_client_secret"}"#),
        (400, r#"{"status":"BAD_CLIENT_ID","message":"unknown client"}"#),
        (401, r#"{"error":"invalid_client"}"#),
    ];
    for (status, body) in refused {
        assert!(matches!(err(&cfg(), status, body), TokenError::ClientRefused { .. }), "{body}");
    }
    let passing = [
        (200, r#"{"ok":false,"error":"ratelimited"}"#),
        (400, r#"{"error":{"message":"Please retry","type":"OAuthException","code":2}}"#),
        (503, "<html>down</html>"),
        (200, r#"{"token_type":"bearer"}"#),
    ];
    for (status, body) in passing {
        assert!(matches!(err(&cfg(), status, body), TokenError::Transient(_)), "{body}");
    }
}

#[test]
fn a_service_may_add_error_codes_to_the_built_in_lists() {
    let mut c = cfg();
    let body = r#"{"error":"refresh_token_expired"}"#;
    assert!(matches!(err(&c, 400, body), TokenError::Transient(_)));
    c.dead_grant_errors = vec!["REFRESH_TOKEN_EXPIRED".into()];
    assert!(matches!(err(&c, 400, body), TokenError::InvalidGrant { .. }));
    c.client_refused_errors = vec!["app_suspended".into()];
    assert!(matches!(err(&c, 403, r#"{"error":"app_suspended"}"#), TokenError::ClientRefused { .. }));
}

#[test]
fn huge_deep_and_unparseable_answers_are_refused_with_a_reason() {
    let huge = format!(r#"{{"access_token":"a","pad":"{}"}}"#, "x".repeat(MAX_TOKEN_RESPONSE_BYTES));
    assert!(err(&cfg(), 200, &huge).to_string().contains("more than the 1024 KiB"));
    let deep = format!(r#"{{"access_token":"a","x":{}1{}}}"#, "[".repeat(40), "]".repeat(40));
    assert!(err(&cfg(), 200, &deep).to_string().contains("nested deeper than 16 levels"));
    let quoted = format!(r#"{{"access_token":"a","x":"{}"}}"#, "[".repeat(40));
    assert_eq!(ok(&cfg(), 200, &quoted).access_token.expose(), "a", "brackets in strings do not count");
    for body in ["<html>hello</html>", "hello world", "", "[1,2]", "\"access_token\""] {
        let e = err(&cfg(), 200, body).to_string();
        assert!(e.contains("neither a JSON object nor form-encoded"), "{body}: {e}");
    }
}

#[test]
fn secrets_the_request_sent_are_masked_in_provider_text() {
    let sent = vec!["s3cret-refresh".to_owned()];
    let body = r#"{"error":"bad_refresh_token","error_description":"token s3cret-refresh is bad"}"#;
    let e = read(&cfg(), 200, body.as_bytes(), &sent).err().unwrap().to_string();
    assert!(!e.contains("s3cret-refresh") && e.contains("bad_refresh_token"), "{e}");
}

#[test]
fn a_429_is_a_throttle_with_or_without_retry_after_and_a_503_only_with_one() {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    let with = |value: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
        headers
    };
    let limited = |status, headers: &HeaderMap| match rate_limited(status, headers) {
        Some(TokenError::RateLimited { status, retry_after }) => Some((status, retry_after)),
        Some(other) => panic!("{other}"),
        None => None,
    };
    assert_eq!(limited(429, &with("2")), Some((429, Some(RetryAfter::Seconds(2)))));
    assert_eq!(
        limited(429, &with("Sun, 06 Nov 1994 08:49:37 GMT")),
        Some((429, Some(RetryAfter::At(784_111_777))))
    );
    assert_eq!(limited(429, &HeaderMap::new()), Some((429, None)), "no Retry-After: a backoff");
    assert_eq!(limited(429, &with("later")), Some((429, None)), "an unreadable one: a backoff");
    assert_eq!(limited(503, &with("30")), Some((503, Some(RetryAfter::Seconds(30)))));
    assert_eq!(limited(503, &HeaderMap::new()), None, "an outage, as any 5xx");
    assert_eq!(limited(400, &with("30")), None);
    assert_eq!(limited(200, &with("30")), None);
    let shown = TokenError::RateLimited { status: 429, retry_after: Some(RetryAfter::Seconds(2)) };
    assert_eq!(
        shown.to_string(),
        "the token endpoint answered HTTP 429 (too many requests; Retry-After 2 s)"
    );
}
