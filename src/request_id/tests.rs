//! Unit tests of `request_id`.

use super::*;

#[test]
fn a_sane_id_is_short_and_plain_and_ours_are_sane_and_distinct() {
    for ok in ["a", "req-42", "7f3k.A_b-9", &"x".repeat(MAX_LEN)] {
        assert!(is_sane(ok), "{ok:?}");
    }
    for bad in ["", &"x".repeat(MAX_LEN + 1), "two words", "line\nbreak", "<b>", "é", "a/b", "a=b"] {
        assert!(!is_sane(bad), "{bad:?}");
    }
    let (first, second) = (generate(), generate());
    assert!(is_sane(&first) && is_sane(&second), "{first} {second}");
    assert_ne!(first, second);
}
