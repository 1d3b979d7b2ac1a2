use super::*;
use crate::domain::service::{ApiKeyConfig, OAuthConfig, ParamType};

fn oauth(token: &str, refresh: Option<&str>, revoke: Option<&str>) -> ServiceConfig {
    ServiceConfig::OAuth2(OAuthConfig {
        refresh_url: refresh.map(str::to_owned),
        revoke_url: revoke.map(str::to_owned),
        ..OAuthConfig::example(token)
    })
}

fn api_key() -> ServiceConfig {
    ServiceConfig::ApiKey(ApiKeyConfig { param_type: ParamType::Header, params: vec![] })
}

#[test]
fn an_origin_always_names_its_port_and_ignores_path_and_case() {
    assert_eq!(origin_of("https://API.example.com/v1?x=1").as_deref(), Some("https://api.example.com:443"));
    assert_eq!(
        origin_of("https://api.example.com:443/other").as_deref(),
        Some("https://api.example.com:443")
    );
    assert_eq!(origin_of("http://127.0.0.1:8081/x").as_deref(), Some("http://127.0.0.1:8081"));
    assert_ne!(origin_of("http://api.example.com"), origin_of("https://api.example.com"));
    assert_eq!(origin_of("not a url"), None);
    assert_eq!(origin_of("mailto:a@b.c"), None);
}

#[test]
fn an_oauth_service_sends_to_four_roles_and_refresh_defaults_to_the_token_url() {
    let d = Destinations::of(Some("https://api.example/v1"), &oauth("https://idp.example/token", None, None));
    assert_eq!(d.get(Role::Api), Some("https://api.example:443"));
    assert_eq!(d.get(Role::Token), Some("https://idp.example:443"));
    assert_eq!(d.get(Role::Refresh), Some("https://idp.example:443"));
    assert_eq!(d.get(Role::Revoke), None);
    let key = Destinations::of(None, &api_key());
    assert_eq!(key, Destinations::default());
}

#[test]
fn a_path_change_under_the_same_origin_is_no_move() {
    let old =
        Destinations::of(Some("https://api.example/v1"), &oauth("https://idp.example/token", None, None));
    let new = Destinations::of(
        Some("https://api.example/v2"),
        &oauth("https://idp.example/oauth/token", None, None),
    );
    assert!(old.moves_to(&new).is_empty());
    assert!(old.secret_moves_to(&new).is_empty());
}

#[test]
fn a_new_host_scheme_or_port_is_a_move_and_a_dropped_role_is_not() {
    let old = Destinations::of(
        Some("https://api.example/v1"),
        &oauth("https://idp.example/token", None, Some("https://idp.example/r")),
    );
    for (api, token, moved) in [
        ("https://evil.example/v1", "https://idp.example/token", vec![Role::Api]),
        ("http://api.example/v1", "https://idp.example/token", vec![Role::Api]),
        ("https://api.example:8443/v1", "https://idp.example/token", vec![Role::Api]),
        ("https://api.example/v1", "https://idp.example:444/token", vec![Role::Token, Role::Refresh]),
    ] {
        let new = Destinations::of(Some(api), &oauth(token, None, Some("https://idp.example/r")));
        let roles: Vec<Role> = old.moves_to(&new).iter().map(|m| m.role).collect();
        assert_eq!(roles, moved, "{api} {token}");
    }
    let dropped = Destinations::of(None, &oauth("https://idp.example/token", None, None));
    assert!(old.moves_to(&dropped).is_empty());
    let added = Destinations::of(
        Some("https://api.example/v1"),
        &oauth("https://idp.example/token", None, Some("https://evil.example/r")),
    );
    let moves = old.moves_to(&added);
    assert_eq!(
        moves,
        vec![Move {
            role: Role::Revoke,
            from: Some("https://idp.example:443".into()),
            to: "https://evil.example:443".into()
        }]
    );
    assert!(
        moves[0].describe().contains("revoke URL moves from https://idp.example to https://evil.example")
    );
    assert_eq!(shown("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    assert_eq!(shown("http://a.example:80"), "http://a.example");
    assert_eq!(shown("https://a.example:80"), "https://a.example:80");
}

#[test]
fn the_client_secret_may_go_to_any_of_its_endpoints_origins_but_no_other() {
    let old =
        Destinations::of(Some("https://api.example/v1"), &oauth("https://idp.example/token", None, None))
            .client_secret_part();
    assert_eq!(old.get(Role::Api), None);
    assert!(old.allows_any("https://idp.example/revoke"));
    assert!(!old.allows_any("https://api.example/revoke"));
    let revoke_on_same_origin =
        Destinations::of(None, &oauth("https://idp.example/token", None, Some("https://idp.example/revoke")));
    assert!(old.secret_moves_to(&revoke_on_same_origin).is_empty());
    let elsewhere = Destinations::of(
        None,
        &oauth("https://idp.example/token", None, Some("https://evil.example/revoke")),
    );
    assert_eq!(old.secret_moves_to(&elsewhere).len(), 1);
}

#[test]
fn a_connection_allows_a_role_only_at_its_entrusted_origin() {
    let d = Destinations::of(Some("https://api.example/v1"), &oauth("https://idp.example/token", None, None));
    assert!(d.allows(Role::Api, "https://api.example/v1/tickets"));
    assert!(!d.allows(Role::Api, "https://idp.example/v1/tickets"));
    assert!(!d.allows(Role::Revoke, "https://idp.example/revoke"));
    let stored = Destinations::from_json(&d.to_json());
    assert_eq!(stored, d);
    assert_eq!(Destinations::from_json("garbage"), Destinations::default());
}
