use super::*;
use crate::domain::destinations::Destinations;
use crate::domain::service::OAuthConfig;

fn declared(names: &[&str]) -> Vec<ConnectionVariable> {
    names.iter().map(|n| ConnectionVariable { name: (*n).into(), display_name: n.to_uppercase() }).collect()
}

fn template(raw: &str) -> Result<String, String> {
    url_template(raw, true, &declared(&["subdomain", "tenant"]))
}

#[test]
fn a_variable_left_of_a_fixed_dotted_domain_is_accepted() {
    assert_eq!(
        template("https://{subdomain}.zendesk.com/api/v2").unwrap(),
        "https://{subdomain}.zendesk.com/api/v2"
    );
    assert!(template("https://{subdomain}.eu.zendesk.com").is_ok());
    assert!(template("https://{tenant}.{subdomain}.example.com").is_ok());
}

#[test]
fn a_variable_anywhere_in_the_path_or_query_is_accepted_and_kept_unencoded() {
    assert_eq!(
        template(" http://127.0.0.1:8080/{tenant}/oauth/token?site={subdomain} ").unwrap(),
        "http://127.0.0.1:8080/{tenant}/oauth/token?site={subdomain}"
    );
}

#[test]
fn a_host_variable_without_a_fixed_registrable_domain_is_refused() {
    for raw in [
        "https://{subdomain}/x",
        "https://api.{subdomain}",
        "https://{subdomain}.com",
        "https://x.{subdomain}.com",
    ] {
        let e = template(raw).unwrap_err();
        assert!(e.contains("registrable domain must be fixed"), "{raw}: {e}");
    }
}

#[test]
fn a_variable_inside_a_host_label_is_refused() {
    let e = template("https://x{subdomain}.zendesk.com").unwrap_err();
    assert!(e.contains("whole label"), "{e}");
}

#[test]
fn an_undeclared_variable_is_named_in_the_error() {
    let e = template("https://{shop}.myshopify.com").unwrap_err();
    assert!(e.contains("{shop} is not a connection variable"), "{e}");
    assert!(template("https://a.example.com/{").is_err());
    assert!(template("https://a.example.com/{}").is_err());
    assert!(template("https://a.example.com/}").is_err());
}

#[test]
fn a_url_without_variables_is_normalised_as_before() {
    assert_eq!(template("https://API.example.com").unwrap(), "https://api.example.com/");
}

#[test]
fn declarations_are_snake_case_unique_short_and_few() {
    let mut errors = FieldErrors::new();
    let rows = vec![
        ConnectionVariable { name: "subdomain".into(), display_name: "Subdomain".into() },
        ConnectionVariable { name: "subdomain".into(), display_name: "Again".into() },
        ConnectionVariable { name: "Bad-Name".into(), display_name: "Bad".into() },
        ConnectionVariable { name: "a".repeat(31), display_name: "Long".into() },
    ];
    let out = declarations(&mut errors, &rows);
    assert_eq!(out.len(), 2);
    assert!(errors.contains_key("connection_variables.1.name"));
    assert!(errors.contains_key("connection_variables.2.name"));
    assert!(errors.contains_key("connection_variables.3.name"));
    let six: Vec<_> =
        (0..6).map(|i| ConnectionVariable { name: format!("v{i}"), display_name: "V".into() }).collect();
    let mut errors = FieldErrors::new();
    declarations(&mut errors, &six);
    assert!(errors.contains_key("connection_variables"));
}

#[test]
fn a_value_is_one_lowercased_dns_label() {
    assert_eq!(label(" AcMe-1 ").unwrap(), "acme-1");
    assert_eq!(label(&"a".repeat(63)).unwrap().len(), 63);
    for bad in ["", "acme.evil", "a/b", "user@acme", "a:1", "a b", "-acme", "acme-", &"a".repeat(64), "é"] {
        assert!(label(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn values_are_checked_against_the_declared_variables() {
    let mut errors = FieldErrors::new();
    let sent = Values::from([("subdomain".into(), "ACME".into()), ("other".into(), "x".into())]);
    let out = values(&mut errors, &declared(&["subdomain", "tenant"]), &sent);
    assert_eq!(out.get("subdomain").map(String::as_str), Some("acme"));
    assert!(errors.contains_key("variables.tenant"));
    assert!(errors["variables"][0].contains("other"));
}

#[test]
fn resolving_substitutes_every_url_and_names_a_missing_value() {
    let config = ServiceConfig::OAuth2(OAuthConfig {
        authorization_url: Some("https://{subdomain}.zendesk.com/oauth/authorizations/new".into()),
        revoke_url: Some("https://{subdomain}.zendesk.com/oauth/revoke".into()),
        ..OAuthConfig::example("https://{subdomain}.zendesk.com/oauth/tokens")
    });
    let values = Values::from([("subdomain".into(), "acme".into())]);
    let (api, resolved) = resolve(Some("https://{subdomain}.zendesk.com/api/v2"), &config, &values).unwrap();
    assert_eq!(api.as_deref(), Some("https://acme.zendesk.com/api/v2"));
    let o = resolved.oauth().unwrap();
    assert_eq!(o.authorization_url.as_deref(), Some("https://acme.zendesk.com/oauth/authorizations/new"));
    assert_eq!(o.token_url, "https://acme.zendesk.com/oauth/tokens");
    assert_eq!(o.revoke_url.as_deref(), Some("https://acme.zendesk.com/oauth/revoke"));
    assert_eq!(resolve(None, &config, &Values::new()).unwrap_err(), "subdomain");

    let patterns = Destinations::of(Some("https://{subdomain}.zendesk.com/api/v2"), &config);
    assert_eq!(
        patterns.get(crate::domain::destinations::Role::Token),
        Some("https://{subdomain}.zendesk.com:443")
    );
    let entrusted = Destinations::of(api.as_deref(), &resolved);
    assert_eq!(entrusted.get(crate::domain::destinations::Role::Api), Some("https://acme.zendesk.com:443"));
}

#[test]
fn a_client_secret_pattern_matches_one_label_only() {
    let secret = Destinations::of(
        None,
        &ServiceConfig::OAuth2(OAuthConfig {
            ..OAuthConfig::example("https://{subdomain}.zendesk.com/oauth/tokens")
        }),
    )
    .client_secret_part();
    assert!(secret.allows_any("https://acme.zendesk.com/oauth/tokens"));
    assert!(secret.allows_any("https://ACME.zendesk.com:443/x"));
    assert!(!secret.allows_any("https://acme.evil.zendesk.com/oauth/tokens"));
    assert!(!secret.allows_any("https://acme.evil/oauth/tokens"));
    assert!(!secret.allows_any("https://evil.com:443/"));
    assert!(!secret.allows_any("http://acme.zendesk.com/oauth/tokens"));
    assert!(!secret.allows_any("https://acme.zendesk.com:8443/oauth/tokens"));
    assert!(!origin_matches("https://{subdomain}.zendesk.com:443", "https://-x.zendesk.com:443"));
}

#[test]
fn a_consent_form_may_post_to_any_host_under_the_fixed_domain_only() {
    assert_eq!(
        csp_source("https://{subdomain}.zendesk.com/oauth/authorizations/new").as_deref(),
        Some("https://*.zendesk.com")
    );
    assert_eq!(
        csp_source("http://127.0.0.1:9000/{tenant}/authorize").as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(csp_source("https://auth.example.com/x").as_deref(), Some("https://auth.example.com"));
}
