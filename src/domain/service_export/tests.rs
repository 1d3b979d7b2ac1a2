use serde_json::json;

use super::*;

fn file(services: serde_json::Value) -> String {
    json!({ "format": FORMAT, "version": 1, "services": services }).to_string()
}

#[test]
fn a_definition_never_carries_the_client_secret_and_says_whether_there_was_one() {
    let input: ServiceInput = serde_json::from_value(json!({
        "name": "Desk", "link_name": "desk", "auth_type": "oauth2",
        "oauth2": { "client_id": "id-1", "client_secret": "hunter2", "token_url": "https://a.example/t" },
    }))
    .unwrap();
    let value = definition(input, true);
    assert!(!value.to_string().contains("hunter2"), "{value}");
    assert_eq!(value["oauth2"]["needs_client_secret"], true);
    assert!(value["oauth2"].get("client_secret").is_none());
    assert!(value.get("api_key").is_none(), "no null members: {value}");
}

#[test]
fn the_same_definitions_make_the_same_bytes_whatever_their_order() {
    let a = json!({ "link_name": "b_service", "name": "B" });
    let b = json!({ "link_name": "a_service", "name": "A" });
    assert_eq!(document(vec![a.clone(), b.clone()]), document(vec![b, a]));
}

#[test]
fn a_file_that_is_not_a_version_1_services_file_is_refused_as_a_whole() {
    for (raw, expected) in [
        ("{not json".to_owned(), "not valid JSON"),
        ("[1, 2]".to_owned(), "no JSON object"),
        (json!({ "format": "other", "version": 1, "services": [] }).to_string(), "\"format\""),
        (json!({ "format": FORMAT, "version": 2, "services": [{}] }).to_string(), "version 2"),
        (json!({ "format": FORMAT, "services": [{}] }).to_string(), "no version"),
        (json!({ "format": FORMAT, "version": 1 }).to_string(), "no list of services"),
        (file(json!([])), "holds no service"),
        (file(json!(vec![json!({}); MAX_SERVICES + 1])), "at most 500"),
        (format!("{}{}", "[".repeat(200), "]".repeat(200)), "recursion limit"),
        (format!("{{\"pad\": \"{}\"}}", "x".repeat(MAX_BYTES)), "larger than 256 KiB"),
    ] {
        let refused = services_of(&raw).unwrap_err();
        assert!(refused.contains(expected), "{expected:?} in {refused:?}");
    }
}

#[test]
fn a_client_secret_in_a_file_is_refused_and_the_flag_marks_the_secret_as_pending() {
    let with_secret = json!({ "auth_type": "oauth2", "oauth2": { "client_secret": "s" } });
    assert!(input_of(with_secret).err().unwrap().contains_key("oauth2.client_secret"));
    let flagged = json!({ "auth_type": "oauth2", "oauth2": { "needs_client_secret": true } });
    assert!(input_of(flagged).unwrap().1);
    let client_credentials =
        json!({ "auth_type": "oauth2", "oauth2": { "grant_type": "client_credentials" } });
    assert!(input_of(client_credentials).unwrap().1);
    let public = json!({ "auth_type": "oauth2", "oauth2": { "needs_client_secret": false } });
    assert!(!input_of(public).unwrap().1);
    let wrong = json!({ "name": ["not", "a", "string"], "api_key": "x" });
    let refused = input_of(wrong).err().unwrap();
    assert!(refused["service"][0].starts_with("This is not a valid service"), "{refused:?}");
    assert!(input_of(json!("text")).is_err());
}
