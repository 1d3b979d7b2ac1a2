use super::*;

const STORED_BEFORE: &str = concat!(
    r#"{"type":"oauth2","grant_type":"authorization_code","client_id":"id","#,
    r#""authorization_url":"https://a.example/auth","token_url":"https://a.example/token","#,
    r#""refresh_url":null,"revoke_url":null,"issuer":null,"client_auth":"basic","scope_delimiter":" ","#,
    r#""token_placement":{"in":"header","name":"Authorization","prefix":"Bearer"},"#,
    r#""extra_auth_params":[["prompt","consent"],["access_type","offline"]],"scopes":[]}"#
);

#[test]
fn extra_parameters_are_written_as_an_object_in_their_order_and_read_in_either_form() {
    let config: ServiceConfig = serde_json::from_str(STORED_BEFORE).unwrap();
    let oauth = config.oauth().unwrap();
    assert_eq!(
        oauth.extra_auth_params,
        [("prompt".to_owned(), "consent".to_owned()), ("access_type".to_owned(), "offline".to_owned())]
    );
    let written = serde_json::to_string(&config).unwrap();
    assert!(
        written.contains(r#""extra_auth_params":{"prompt":"consent","access_type":"offline"}"#),
        "{written}"
    );
    let again: ServiceConfig = serde_json::from_str(&written).unwrap();
    assert_eq!(again, config);
}
