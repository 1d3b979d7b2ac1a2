//! Unit tests of the edge checks on text input.

use super::{check_form, check_json, check_path_and_query};
use crate::error::AppError;

fn field_of(result: Result<(), AppError>) -> String {
    match result {
        Err(AppError::Invalid(fields)) => fields.keys().next().cloned().unwrap_or_default(),
        other => panic!("expected a 422, got {other:?}"),
    }
}

#[test]
fn a_path_with_a_control_character_is_not_found() {
    for path in
        ["/admin/services/a%00b", "/api/v1/connections/a%0Ab", "/x/%09", "/x/%7f", "/x/%C2%85", "/x/\u{85}"]
    {
        assert!(matches!(check_path_and_query(path, ""), Err(AppError::NotFound)), "{path}");
    }
    for path in ["/admin/services/zoho_desk", "/a%20b", "/a+b", "/%E2%9C%93", "/%ZZ", "/%"] {
        assert!(check_path_and_query(path, "").is_ok(), "{path}");
    }
}

#[test]
fn a_query_with_a_control_character_names_the_parameter() {
    assert_eq!(field_of(check_path_and_query("/", "search=%00")), "search");
    assert_eq!(field_of(check_path_and_query("/", "page=2&service=a%0Db")), "service");
    assert_eq!(
        field_of(check_path_and_query("/", "next=%2F%09%2Fevil")),
        "next",
        "a tab is refused in a query"
    );
    assert_eq!(field_of(check_path_and_query("/", "a%00=1")), "query", "an unreadable name is not repeated");
    for query in ["", "search=a+b", "search=%E2%9C%93&page=2", "q=%", "next=%2Fadmin%2Fservices%3Fpage%3D2"] {
        assert!(check_path_and_query("/", query).is_ok(), "{query}");
    }
}

#[test]
fn form_fields_keep_tabs_and_line_breaks_only() {
    assert!(check_form(b"description=line+one%0D%0Aline%09two&name=x").is_ok());
    assert_eq!(field_of(check_form(b"username=admin%00")), "username");
    assert_eq!(field_of(check_form(b"username=admin\0")), "username", "a raw NUL too");
    assert_eq!(field_of(check_form(b"next=%2F%0B")), "next");
    assert_eq!(field_of(check_form(b"name=%1B%5B31m")), "name");
    assert_eq!(field_of(check_form(b"name=%C2%9B")), "name", "C1 controls too");
    assert_eq!(field_of(check_form(b"x%00y=1")), "body");
}

#[test]
fn json_strings_keep_tabs_and_line_breaks_only_at_any_depth() {
    assert!(check_json(r#"{"description": "one\r\ntwo\tthree", "n": 1, "list": [null, true]}"#).is_ok());
    assert!(check_json(r#"{"body": "a literal \\u0000 is text"}"#).is_ok());
    assert!(check_json("{\n\t\"name\": \"pretty\"\r\n}").is_ok());
    assert_eq!(field_of(check_json(r#"{"name": "a\u0000b"}"#)), "name");
    assert_eq!(field_of(check_json(r#"{"headers": {"X-A": "\u001b"}}"#)), "headers.X-A");
    assert_eq!(
        field_of(check_json(r#"{"headers": {"X-\u0000": "a"}}"#)),
        "headers",
        "a bad key names its object"
    );
    assert_eq!(
        field_of(check_json(r#"{"api_key": {"params": [{}, {"name": "a\u007f"}]}}"#)),
        "api_key.params.1.name"
    );
    assert_eq!(field_of(check_json("{\"name\": \"a\u{85}\"}")), "name", "a raw C1 character");
    assert_eq!(field_of(check_json(r#"{"a\u0000": 1}"#)), "body");
    assert_eq!(field_of(check_json(r#"["\u0000"]"#)), "0");
    assert_eq!(field_of(check_json(r#""\u0000""#)), "body");
}
