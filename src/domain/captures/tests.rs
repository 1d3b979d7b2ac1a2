use serde_json::json;

use super::*;
use crate::domain::destinations::{Destinations, Role};
use crate::domain::service::{OAuthConfig, ServiceConfig};

fn input(name: &str, source: &str, key: &str, kind: &str, allowed: &[&str]) -> CaptureInput {
    CaptureInput {
        name: Some(name.into()),
        display_name: Some(format!("The {name}")),
        source: Some(source.into()),
        key: Some(key.into()),
        kind: Some(kind.into()),
        allowed: Some(allowed.iter().map(|a| (*a).to_owned()).collect()),
    }
}

fn declared(rows: &[CaptureInput]) -> Vec<CapturedValue> {
    let mut errors = FieldErrors::new();
    let out = declarations(&mut errors, rows, &[], false);
    assert!(errors.is_empty(), "{errors:?}");
    out
}

fn zoho() -> Vec<CapturedValue> {
    declared(&[
        input(
            "accounts_server",
            "callback",
            "accounts-server",
            "origin",
            &["https://accounts.zoho.com", "https://accounts.zoho.eu"],
        ),
        input("location", "callback", "location", "label", &[]),
        input(
            "desk",
            "callback",
            "location",
            "origin",
            &["us => https://desk.zoho.com", "eu => https://desk.zoho.eu"],
        ),
        input("instance", "token_response", "instance_url", "origin", &["https://*.my.salesforce.com"]),
    ])
}

#[test]
fn an_origin_is_only_ever_one_the_allow_list_names_or_matches() {
    let caps = zoho();
    let server = &caps[0];
    assert_eq!(server.accept("https://accounts.zoho.eu").unwrap(), "https://accounts.zoho.eu");
    assert_eq!(server.accept("https://ACCOUNTS.zoho.eu/").unwrap(), "https://accounts.zoho.eu");
    assert_eq!(server.accept("https://accounts.zoho.eu:443").unwrap(), "https://accounts.zoho.eu");
    for hostile in [
        "https://evil.example",
        "https://accounts.zoho.eu.evil.example",
        "https://accounts.zoho.eu@evil.example",
        "https://evil.example/?https://accounts.zoho.eu",
        "https://accounts.zoho.eu/oauth/v2/token",
        "https://accounts.zoho.eu:8443",
        "http://accounts.zoho.eu",
        "https://accounts.zoho.eu#x",
        "https://accounts.zoho.eu\\@evil.example",
        " https://accounts.zoho.eu",
        "accounts.zoho.eu",
        "",
    ] {
        let refused = server.accept(hostile).unwrap_err();
        assert!(refused.contains("not one of the origins"), "{hostile:?}: {refused}");
    }
    let salesforce = &caps[3];
    assert_eq!(
        salesforce.accept("https://acme.my.salesforce.com").unwrap(),
        "https://acme.my.salesforce.com"
    );
    for hostile in
        ["https://a.b.my.salesforce.com", "https://my.salesforce.com", "https://acme.my.salesforce.com.evil"]
    {
        assert!(salesforce.accept(hostile).is_err(), "{hostile}");
    }
}

#[test]
fn a_provider_word_chooses_an_origin_from_its_pairs() {
    let desk = &zoho()[2];
    assert_eq!(desk.accept("eu").unwrap(), "https://desk.zoho.eu");
    assert_eq!(desk.accept("us").unwrap(), "https://desk.zoho.com");
    assert!(desk.accept("EU").is_err() && desk.accept("https://desk.zoho.eu").is_err());
}

#[test]
fn a_kept_value_counts_only_while_the_definition_still_allows_it() {
    let mut caps = zoho();
    assert!(caps[2].still_allows("https://desk.zoho.eu"), "the origin a pair gives");
    assert!(caps[0].still_allows("https://accounts.zoho.eu"));
    assert!(caps[3].still_allows("https://acme.my.salesforce.com"));
    assert!(caps[1].still_allows("eu") && !caps[1].still_allows("e.u"));
    caps[0].allowed = vec!["https://accounts.zoho.com".into()];
    assert!(!caps[0].still_allows("https://accounts.zoho.eu"), "dropped from the list");
    assert!(!caps[2].still_allows("https://desk.zoho.in"));
}

#[test]
fn a_label_is_one_dns_label_and_keeps_its_case() {
    let location = &zoho()[1];
    assert_eq!(location.accept("T0FAKE").unwrap(), "T0FAKE");
    let huge = "9".repeat(100_000);
    for bad in ["12.evil", "../x", "a/b", "user@host", "a b", "a:1", "-a", "", &huge] {
        let why = location.accept(bad).unwrap_err();
        assert!(why.chars().count() < 300, "the message quotes only the start: {why}");
    }
}

#[test]
fn callback_values_are_read_once_and_token_values_at_their_paths() {
    let caps = zoho();
    let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let values = from_callback(
        &caps,
        &query(&[("code", "c"), ("location", "eu"), ("accounts-server", "https://accounts.zoho.eu")]),
    )
    .unwrap();
    assert_eq!(values["accounts_server"], "https://accounts.zoho.eu");
    assert_eq!(values["desk"], "https://desk.zoho.eu");
    assert_eq!(values["location"], "eu");
    assert!(!values.contains_key("instance"), "a token-response value is not read from the callback");
    let twice = from_callback(&caps, &query(&[("location", "eu"), ("location", "us")])).unwrap_err();
    assert!(twice.contains("more than once"), "{twice}");
    assert!(from_callback(&caps, &query(&[("accounts-server", "https://evil.example")])).is_err());
    assert!(from_callback(&caps, &query(&[])).unwrap().is_empty());

    let found = from_token_response(&caps, &json!({"instance_url": "https://acme.my.salesforce.com"}));
    assert_eq!(found, [("instance".to_owned(), Ok("https://acme.my.salesforce.com".to_owned()))]);
    let found = from_token_response(&caps, &json!({"instance_url": {"nested": 1}}));
    assert!(found[0].1.is_err());
    assert!(from_token_response(&caps, &json!({})).is_empty());
}

#[test]
fn declarations_refuse_what_could_leak_or_reach_anywhere() {
    let cases: Vec<(CaptureInput, &str, &str)> = vec![
        (input("at", "callback", "code", "label", &[]), "key", "OAuth itself"),
        (input("at", "token_response", "access_token", "label", &[]), "key", "cannot be a token"),
        (
            input("at", "token_response", "authed_user.refresh_token", "label", &[]),
            "key",
            "cannot be a token",
        ),
        (input("at", "callback", "realm id", "label", &[]), "key", "query parameter"),
        (input("at", "elsewhere", "realmId", "label", &[]), "source", "callback query or the token"),
        (input("at", "callback", "realmId", "url", &[]), "kind", "DNS label or an origin"),
        (input("at", "callback", "realmId", "origin", &[]), "allowed", "only ever chosen from this list"),
        (input("at", "callback", "realmId", "label", &["https://a.example"]), "allowed", "Only an origin"),
        (input("at", "callback", "x", "origin", &["https://a.example/path"]), "allowed", "without a path"),
        (input("at", "callback", "x", "origin", &["https://*.com"]), "allowed", "registrable domain"),
        (input("at", "callback", "x", "origin", &["https://a.*.example.com"]), "allowed", "first label"),
        (input("at", "callback", "x", "origin", &["http://a.example"]), "allowed", "Use https"),
        (input("at", "callback", "x", "origin", &["e u => https://a.example"]), "allowed", "value => origin"),
        (input("At", "callback", "x", "label", &[]), "name", "snake_case"),
    ];
    for (row, field, message) in cases {
        let mut errors = FieldErrors::new();
        let out = declarations(&mut errors, &[row], &[], false);
        let key = format!("oauth2.captured_values.0.{field}");
        let said = errors.get(&key).map(|m| m.join(" ")).unwrap_or_default();
        assert!(said.contains(message), "{key}: {said:?} in {errors:?}");
        assert!(out.is_empty());
    }
    let mut errors = FieldErrors::new();
    let variables = [ConnectionVariable { name: "realm_id".into(), display_name: "Realm".into() }];
    declarations(&mut errors, &[input("realm_id", "callback", "realmId", "label", &[])], &variables, false);
    assert!(errors.contains_key("oauth2.captured_values.0.name"), "{errors:?}");
}

#[test]
fn urls_name_captured_values_only_once_they_exist_and_an_origin_only_at_the_start() {
    let caps = zoho();
    let check = |url: &str, stage| url_template(url, false, &[], &caps, stage);
    assert_eq!(
        check("{accounts_server}/oauth/v2/token", Stage::Exchange).unwrap(),
        "{accounts_server}/oauth/v2/token"
    );
    assert_eq!(check("{desk}/api/v1", Stage::Connected).unwrap(), "{desk}/api/v1");
    assert!(check("https://x.example/{location}/api", Stage::Connected).is_ok());
    let said = |url: &str, stage| check(url, stage).unwrap_err();
    assert!(said("{accounts_server}/oauth/v2/auth", Stage::Consent).contains("visited before"));
    assert!(said("{instance}/services/oauth2/token", Stage::Exchange).contains("token response"));
    for misplaced in [
        "https://x.example/{accounts_server}",
        "{accounts_server}.evil.example/x",
        "{accounts_server}:8080/x",
        "{accounts_server}@evil.example",
        "{accounts_server}/a/{accounts_server}",
    ] {
        assert!(said(misplaced, Stage::Connected).contains("whole origin"), "{misplaced}");
    }
    assert!(said("{accounts_server}{desk}/x", Stage::Connected).contains("one origin value"));
    assert!(
        said("https://x.example/{nope}", Stage::Connected).contains("{nope} is not a connection variable")
    );
}

#[test]
fn the_client_secret_goes_only_to_the_origins_an_allow_list_gives() {
    let mut o = OAuthConfig::example("{accounts_server}/oauth/v2/token");
    o.captured_values = zoho();
    let d = Destinations::of(Some("{desk}/api/v1"), &ServiceConfig::OAuth2(o));
    let token = d.get(Role::Token).unwrap();
    assert_eq!(token, "https://accounts.zoho.com:443 | https://accounts.zoho.eu:443");
    let secret = d.client_secret_part();
    assert!(secret.allows_any("https://accounts.zoho.eu/oauth/v2/token"));
    assert!(!secret.allows_any("https://evil.example/oauth/v2/token"));
    assert!(!secret.allows_any("https://desk.zoho.eu/api/v1"), "the API is not a token endpoint");
    assert_eq!(d.get(Role::Api).unwrap(), "https://desk.zoho.com:443 | https://desk.zoho.eu:443");
    assert!(crate::domain::destinations::shown(token).starts_with("one of https://accounts.zoho.com,"));

    // Adding an origin to the list moves the secret; dropping one does not.
    let mut wider = OAuthConfig::example("{accounts_server}/oauth/v2/token");
    let mut caps = zoho();
    caps[0].allowed.push("https://accounts.zoho.in".into());
    wider.captured_values = caps;
    let wider = Destinations::of(None, &ServiceConfig::OAuth2(wider));
    assert_eq!(secret.secret_moves_to(&wider).len(), 2, "token and refresh");
    assert!(wider.client_secret_part().secret_moves_to(&secret).is_empty());
}
