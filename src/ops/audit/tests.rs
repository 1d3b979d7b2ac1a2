use super::export::{csv_cell, csv_row};
use super::{AuditParams, cursor, summary};
use crate::error::AppError;
use crate::models::audit::{Direction, Position};

fn params(pairs: &[(&str, &str)]) -> AuditParams {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    serde_urlencoded::from_str(&query).unwrap()
}

fn refused(pairs: &[(&str, &str)]) -> String {
    match params(pairs).query() {
        Err(AppError::BadRequest(message)) => message,
        other => panic!("{pairs:?} gave {other:?}"),
    }
}

#[test]
fn cells_that_a_spreadsheet_would_run_get_a_leading_quote_and_every_cell_is_quoted() {
    assert_eq!(csv_cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    for risky in ["+1", "-2", "@x", "\tx", "\rx"] {
        assert_eq!(csv_cell(risky), format!("\"'{risky}\""));
    }
    for plain in ["Zoho Desk", "1", "a=b", " =x", ""] {
        assert_eq!(csv_cell(plain), format!("\"{plain}\""));
    }
    assert_eq!(csv_cell("a,b\r\nc"), "\"a,b\r\nc\"");
    assert_eq!(csv_row(&["a", "-b"]), "\"a\",\"'-b\"\r\n");
}

#[test]
fn a_cursor_reads_back_as_it_was_given_and_anything_else_is_a_bad_request() {
    for (position, direction) in [
        (Position { at: 1_790_000_000, id: 42 }, Direction::Older),
        (Position { at: -5, id: 1 }, Direction::Newer),
    ] {
        let q = params(&[("cursor", &cursor(position, direction))]).query().unwrap();
        assert_eq!(q.after, Some((position, direction)));
    }
    for bad in ["x", "bzox", "!!!", &cursor(Position { at: 1, id: 2 }, Direction::Older)[1..]] {
        assert!(refused(&[("cursor", bad)]).contains("cursor"), "{bad}");
    }
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("o.1.2.3");
    assert!(refused(&[("cursor", &forged)]).contains("cursor"));
}

#[test]
fn dates_are_whole_utc_days_and_to_includes_its_day() {
    let q = params(&[("from", "2026-12-04"), ("to", "2026-12-05")]).query().unwrap();
    assert_eq!(q.filter.from, Some(1_796_342_400));
    assert_eq!(q.filter.until, Some(1_796_342_400 + 2 * 86_400));
    for bad in ["2026-13-01", "2026-1-1", "04/12/2026", "2026-12-04T00:00", "tomorrow", "+2026-12-04"] {
        assert!(refused(&[("from", bad)]).contains("YYYY-MM-DD"), "{bad}");
        assert!(refused(&[("to", bad)]).contains("YYYY-MM-DD"), "{bad}");
    }
}

#[test]
fn filters_are_exact_and_checked() {
    let q =
        params(&[("actor", " alice "), ("object_type", "connection"), ("object", "zoho")]).query().unwrap();
    assert_eq!(q.filter.actor.as_deref(), Some("alice"));
    assert_eq!(q.filter.target_type.as_deref(), Some("connection"));
    assert_eq!(q.filter.target.as_deref(), Some("zoho"));
    assert_eq!(q.limit, super::DEFAULT_LIMIT);
    assert!(refused(&[("object_type", "planet")]).contains("object_type"));
    assert!(refused(&[("actor", "a\u{0}b")]).contains("actor"));
    assert!(refused(&[("object", &"x".repeat(201))]).contains("object"));
    for bad in ["0", "101", "ten", "-1"] {
        assert!(refused(&[("limit", bad)]).contains("limit"), "{bad}");
    }
    assert_eq!(params(&[("limit", "100")]).query().unwrap().limit, 100);
}

#[test]
fn the_url_keeps_the_filters_and_the_cursor() {
    let p = params(&[("actor", "bob"), ("object", "a b"), ("from", "")]);
    assert_eq!(p.url("/admin/audit", None), "/admin/audit?actor=bob&object=a+b");
    assert_eq!(p.url("/admin/audit", Some("abc")), "/admin/audit?actor=bob&object=a+b&cursor=abc");
    assert_eq!(params(&[]).url("/admin/audit", None), "/admin/audit");
}

#[test]
fn a_summary_says_what_changed_from_what_to_what_and_names_secrets_only() {
    let details = r#"{"changed":["name","client_secret"],"fields":{"name":{"before":"Old","after":"New"}},"destinations_moved":[]}"#;
    assert_eq!(summary(details), "name: Old → New; client_secret changed");
    assert_eq!(summary(r#"{"reason":"wrong password"}"#), "reason: wrong password");
    assert_eq!(summary(r#"{"scopes":["a","b"],"owner":null}"#), r#"scopes: ["a","b"]"#);
    assert_eq!(summary("not json"), "");
    assert!(summary(&format!(r#"{{"name":"{}"}}"#, "x".repeat(500))).chars().count() <= 300);
}
