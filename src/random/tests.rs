//! Unit tests of `random`.

use super::*;

#[test]
fn random_tokens_are_long_and_distinct() {
    let a = random_urlsafe(32).unwrap();
    let b = random_urlsafe(32).unwrap();
    assert_eq!(a.len(), 43);
    assert_ne!(a, b);
}

#[test]
fn same_token_compares_whole_values() {
    assert!(same_token("abc", "abc"));
    assert!(!same_token("abc", "abd"));
    assert!(!same_token("abc", "abcd"));
    assert!(!same_token("", "a"));
}

#[test]
fn api_tokens_carry_the_prefix() {
    let (token, shown) = new_api_token().unwrap();
    assert!(token.starts_with("cn_") && token.len() == 46);
    assert!(token.starts_with(&shown) && shown.len() == 9);
}
