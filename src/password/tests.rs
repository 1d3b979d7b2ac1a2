//! Unit tests of `password`.

use super::*;

#[test]
fn hash_verifies_only_the_same_password() {
    let hash = hash_blocking(&Secret::new("correct horse battery")).unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(verify_blocking(&Secret::new("correct horse battery"), &hash));
    assert!(!verify_blocking(&Secret::new("correct horse batterY"), &hash));
    assert!(!verify_blocking(&Secret::new("x"), "not a phc string"));
}

#[test]
fn policy_wants_twelve_characters() {
    assert!(check_policy(&Secret::new("short")).is_err());
    assert!(check_policy(&Secret::new("twelve chars")).is_ok());
    assert!(check_policy(&Secret::new("ünïcödé-pässwörd")).is_ok());
}
