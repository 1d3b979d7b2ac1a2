use super::*;

const KEY: &str = "a-session-csrf-secret";

#[test]
fn a_nonce_opens_only_its_own_purpose_target_and_session() {
    let nonce = issue(KEY, "connect", "zoho_desk", 1000).unwrap();
    assert_eq!(verify(KEY, "connect", "zoho_desk", &nonce, 1000), Some(1000 + LIFETIME_SECS));
    assert_eq!(verify("another-session", "connect", "zoho_desk", &nonce, 1000), None);
    assert_eq!(verify(KEY, "connect", "zoho_crm", &nonce, 1000), None);
    assert_eq!(verify(KEY, "revoke", "zoho_desk", &nonce, 1000), None);
}

#[test]
fn a_nonce_expires_and_its_expiry_cannot_be_edited() {
    let nonce = issue(KEY, "connect", "desk", 1000).unwrap();
    assert!(verify(KEY, "connect", "desk", &nonce, 1000 + LIFETIME_SECS - 1).is_some());
    assert_eq!(verify(KEY, "connect", "desk", &nonce, 1000 + LIFETIME_SECS), None);
    let (_, rest) = nonce.split_once('.').unwrap();
    let stretched = format!("{}.{rest}", 1000 + 2 * LIFETIME_SECS);
    assert_eq!(verify(KEY, "connect", "desk", &stretched, 1000 + LIFETIME_SECS + 10), None);
}

#[test]
fn malformed_nonces_are_refused() {
    for bad in ["", ".", "..", "abc", "4600.", "4600.s.!!!", "x.s.AAAA", "4600.s.AAAA", "4600.AAAA"] {
        assert_eq!(verify(KEY, "connect", "desk", bad, 1000), None, "{bad:?}");
    }
}

#[test]
fn the_parts_cannot_be_shifted_into_one_another() {
    let nonce = issue(KEY, "connect", "a", 1000).unwrap();
    assert_eq!(verify(KEY, "connec", "ta", &nonce, 1000), None);
}

#[test]
fn two_nonces_issued_in_the_same_second_differ() {
    let (a, b) = (issue(KEY, "connect", "desk", 1000).unwrap(), issue(KEY, "connect", "desk", 1000).unwrap());
    assert_ne!(a, b);
    assert!(
        verify(KEY, "connect", "desk", &a, 1000).is_some()
            && verify(KEY, "connect", "desk", &b, 1000).is_some()
    );
}
