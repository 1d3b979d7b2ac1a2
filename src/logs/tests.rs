//! Unit tests of `logs`.

use super::*;

#[test]
fn one_line_per_subject_a_minute_and_the_next_one_counts_those_left_out() {
    let limiter = Limiter::default();
    let t0 = Instant::now();
    assert_eq!(limiter.admit("api.example.com", t0), Some(0));
    assert_eq!(limiter.admit("api.example.com", t0 + Duration::from_secs(1)), None);
    assert_eq!(limiter.admit("api.example.com", t0 + Duration::from_secs(59)), None);
    assert_eq!(
        limiter.admit("other.example.com", t0 + Duration::from_secs(2)),
        Some(0),
        "each subject on its own"
    );
    assert_eq!(limiter.admit("api.example.com", t0 + EVERY), Some(2));
    assert_eq!(limiter.admit("api.example.com", t0 + EVERY + Duration::from_secs(1)), None);
    assert_eq!(limiter.admit("api.example.com", t0 + EVERY * 3), Some(1));
}

#[test]
fn the_log_format_is_text_unless_json_is_asked_for_and_anything_else_is_refused() {
    assert_eq!(Format::parse(None), Ok(Format::Text));
    assert_eq!(Format::parse(Some("")), Ok(Format::Text));
    assert_eq!(Format::parse(Some("text")), Ok(Format::Text));
    assert_eq!(Format::parse(Some(" json ")), Ok(Format::Json));
    let refused = Format::parse(Some("xml")).unwrap_err();
    assert!(refused.contains("CONNECTIONS_LOG_FORMAT") && refused.contains("\"xml\""), "{refused}");
}
