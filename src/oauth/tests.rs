//! Unit tests of `oauth`.

use super::*;

pub(super) fn cfg(delimiter: &str) -> OAuthConfig {
    OAuthConfig {
        client_id: "client id&x".into(),
        authorization_url: Some("https://auth.example.com/authorize?tenant=a".into()),
        scope_delimiter: delimiter.into(),
        extra_auth_params: vec![("access_type".into(), "offline".into())],
        ..OAuthConfig::example("https://auth.example.com/token")
    }
}

#[test]
fn the_authorize_url_carries_everything_encoded() {
    let scopes = vec!["openid".to_owned(), "Desk.tickets.READ".to_owned()];
    let url = authorize_url(
        &cfg(" "),
        "https://desk.example.com/integration/oauth/callback",
        &scopes,
        "st&te",
        Some("chal"),
    )
    .unwrap();
    let q = url.query().unwrap();
    assert!(
        q.starts_with(
            "tenant=a&response_type=code&client_id=client%20id%26x&redirect_uri=https%3A%2F%2Fdesk"
        ),
        "{q}"
    );
    assert!(
        q.contains(
            "&scope=openid%20Desk.tickets.READ&state=st%26te\
             &code_challenge=chal&code_challenge_method=S256&access_type=offline"
        ),
        "{q}"
    );
    let plus = authorize_url(&cfg("+"), "https://x/cb", &scopes, "s", Some("c")).unwrap();
    assert!(plus.query().unwrap().contains("scope=openid+Desk.tickets.READ"));
    let comma = authorize_url(&cfg(","), "https://x/cb", &scopes, "s", Some("c")).unwrap();
    assert!(comma.query().unwrap().contains("scope=openid%2CDesk.tickets.READ"));
}

#[test]
fn pkce_challenge_is_s256_of_the_verifier() {
    let (verifier, challenge) = pkce_pair().unwrap();
    assert_eq!(verifier.expose().len(), 43);
    assert_eq!(challenge, URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes())));
}

#[test]
fn without_pkce_the_authorize_url_carries_no_challenge() {
    let url = authorize_url(&cfg(" "), "https://x/cb", &[], "s", None).unwrap();
    assert!(!url.query().unwrap().contains("code_challenge"), "{url}");
}
