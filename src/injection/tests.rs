//! Unit tests of `injection`.

use super::*;

const BASE: &str = "https://api.example.com/v1";

#[test]
fn paths_join_the_base_and_stay_under_it() {
    assert_eq!(
        target(Some(BASE), None, Some("/tickets?x=1")).unwrap().as_str(),
        "https://api.example.com/v1/tickets?x=1"
    );
    assert_eq!(
        target(Some("https://api.example.com/v1/"), None, Some("tickets")).unwrap().as_str(),
        "https://api.example.com/v1/tickets"
    );
    for hostile in [
        "/../admin",
        "/..%2fadmin",
        "/%2e%2e/admin",
        "//evil.example/x",
        "/a\\..\\b",
        "/%2F%2Fevil",
        "/x/../../admin",
    ] {
        assert!(target(Some(BASE), None, Some(hostile)).is_err(), "{hostile}");
    }
}

#[test]
fn absolute_urls_must_stay_under_the_base() {
    assert!(target(Some(BASE), Some("https://api.example.com/v1/me"), None).is_ok());
    assert!(
        target(Some(BASE), Some("https://api.example.com:443/v1/me"), None).is_ok(),
        "default port is the same port"
    );
    for hostile in [
        "https://api.example.com/v2/me",
        "https://api.example.com/v10",
        "http://api.example.com/v1/me",
        "https://api.example.com:8443/v1/me",
        "https://evil.example/v1/me",
        "https://api.example.com.evil.example/v1",
        "https://api.example.com@evil.example/v1",
        "https://user:pw@api.example.com/v1",
        "//evil.example/v1",
        "https://api.example.com/v1/../admin",
        "https://API.EXAMPLE.COM/v1/%2e%2e/admin",
    ] {
        assert!(target(Some(BASE), Some(hostile), None).is_err(), "{hostile}");
    }
}

#[test]
fn a_service_without_an_api_base_url_cannot_be_invoked_at_all() {
    let (field, message) = target(None, None, Some("/x")).unwrap_err();
    assert_eq!(field, "service");
    assert!(message.contains("no API base URL"), "{message}");
    assert!(target(None, Some("https://anywhere.example/x"), None).is_err(), "no absolute URL either");
}

#[test]
fn injected_parameters_replace_the_callers() {
    let injected = vec![Injection::Query("api_key".into(), Secret::new("s3cret"))];
    let mut url = Url::parse("https://api.example.com/x?api_key=mine&a=1").unwrap();
    apply_query(&mut url, &BTreeMap::from([("api_key".into(), "also-mine".into())]), &injected);
    assert_eq!(url.query(), Some("a=1&api_key=s3cret"));
    let form = vec![Injection::Form("key".into(), Secret::new("v&1"))];
    let body = form_body(Some(b"key=x&other=2"), None, &form).unwrap().unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), "other=2&key=v%261");
    let headers = vec![Injection::Header("X-Api-Key".into(), Secret::new("k"))];
    let mine = BTreeMap::from([
        ("x-api-key".into(), "forged".into()),
        ("Accept".into(), "application/json".into()),
        ("Host".into(), "x".into()),
    ]);
    assert_eq!(
        caller_headers(&mine, &headers).unwrap(),
        vec![("Accept".to_owned(), "application/json".to_owned())]
    );
}

#[test]
fn echoes_of_secrets_are_masked() {
    let injected = vec![Injection::Header("Authorization".into(), Secret::new("Bearer tok-123"))];
    let secrets = secret_values(&injected, None);
    let masked = mask(b"{\"auth\":\"Bearer tok-123\",\"t\":\"tok-123\"}", &secrets);
    assert_eq!(String::from_utf8(masked).unwrap(), "{\"auth\":\"[redacted]\",\"t\":\"[redacted]\"}");
}

#[test]
fn json_escaped_and_form_encoded_echoes_are_masked() {
    let injected = vec![Injection::Header("X-Api-Key".into(), Secret::new("k\"e/y\\1 2"))];
    let secrets = secret_values(&injected, None);
    let echoed = br#"{"a":"k\"e/y\\1 2","b":"k\"e\/y\\1 2","c":"k%22e%2Fy%5C1+2"}"#;
    let masked = String::from_utf8(mask(echoed, &secrets)).unwrap();
    assert_eq!(masked, r#"{"a":"[redacted]","b":"[redacted]","c":"[redacted]"}"#);
}

#[test]
fn dot_dot_segments_are_refused_also_with_parameters_or_encoded() {
    for hostile in [
        "/..;/secret",
        "/x/..;/..;/admin",
        "/..;jsessionid=1/secret",
        "/x/..%3b/secret",
        "/x/..%3B/secret",
        "/%252e%252e/secret",
        "/x/%252e%252e;/secret",
        "/x/%25252e%25252e/secret",
        "/x/%252f/y",
        "/.;/x",
        "/x/.%3b/y",
        "/x/../y",
        "/x/..",
    ] {
        let err = target(Some(BASE), None, Some(hostile)).unwrap_err();
        assert_eq!(err.0, "path", "{hostile}");
    }
    for hostile in ["https://api.example.com/v1/..;/secret", "https://api.example.com/v1/x/.;/..;/admin"] {
        assert!(target(Some(BASE), Some(hostile), None).is_err(), "{hostile}");
    }
    for fine in [
        "/a;b/c",
        "/file.json",
        "/x/...",
        "/.well-known/x",
        "/x/..y",
        "/x;v=1/y",
        "/100%25/x",
        "/x?next=../y",
        "/x/./y",
    ] {
        assert!(target(Some(BASE), None, Some(fine)).is_ok(), "{fine}");
    }
}

#[test]
fn a_callers_parameter_differing_only_in_case_is_replaced_too() {
    let injected = vec![Injection::Query("api_key".into(), Secret::new("s3cret"))];
    let mut url = Url::parse("https://api.example.com/x?API_KEY=mine&a=1").unwrap();
    apply_query(&mut url, &BTreeMap::from([("Api_Key".into(), "also-mine".into())]), &injected);
    assert_eq!(url.query(), Some("a=1&api_key=s3cret"));
    let form = vec![Injection::Form("Token".into(), Secret::new("t0k"))];
    let body = form_body(Some(b"TOKEN=forged&token=forged2&other=2"), None, &form).unwrap().unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), "other=2&Token=t0k");
}

#[test]
fn base64_echoes_of_whole_secrets_are_masked() {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // Bytes whose encodings differ between the alphabets (+ and / against - and _) and need padding.
    let password = "p\u{fb}?>~\u{ff}w";
    let credentials = Credentials::Basic { username: "svc".into(), password: password.into() };
    let injected = injections(&ServiceConfig::Basic, Some(&credentials), None);
    let secrets = secret_values(&injected, Some(&credentials));
    let mut echoes = Vec::new();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        echoes.push(engine.encode(password));
        echoes.push(engine.encode(format!("svc:{password}")));
    }
    assert!(
        echoes.iter().any(|e| e.contains('+') || e.contains('/'))
            && echoes.iter().any(|e| e.contains('_') || e.contains('-'))
    );
    for echo in &echoes {
        let body = format!("{{\"seen\":\"{echo}\"}}");
        assert_eq!(
            String::from_utf8(mask(body.as_bytes(), &secrets)).unwrap(),
            "{\"seen\":\"[redacted]\"}",
            "{echo}"
        );
    }
    let key = vec![Injection::Header("X-Api-Key".into(), Secret::new("key???>>>"))];
    let secrets = secret_values(&key, None);
    let echo = serde_json::to_string(&STANDARD.encode("key???>>>")).unwrap().replace('/', "\\/");
    assert_eq!(
        String::from_utf8(mask(echo.as_bytes(), &secrets)).unwrap(),
        "\"[redacted]\"",
        "JSON-escaped base64"
    );
    assert_eq!(
        mask(b"svc", &secret_values(&[], Some(&credentials))),
        b"svc".to_vec(),
        "the user name alone is no secret"
    );
}
