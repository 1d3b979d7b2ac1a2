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

#[test]
fn readable_passwords_are_four_groups_of_unambiguous_characters() {
    let a = readable_password().unwrap();
    let b = readable_password().unwrap();
    assert_ne!(a, b);
    let groups: Vec<&str> = a.split('-').collect();
    assert_eq!(groups.len(), 4, "{a}");
    assert!(groups.iter().all(|g| g.len() == 5), "{a}");
    assert!(a.chars().filter(|c| *c != '-').all(|c| PASSWORD_ALPHABET.contains(&(c as u8))), "{a}");
    assert!(!a.contains(['0', 'O', '1', 'l', 'I']), "{a}");
    assert!(crate::password::check_policy(&crate::crypto::Secret::new(a)).is_ok());
}
