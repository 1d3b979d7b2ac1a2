//! Unit tests of `crypto`.

use super::CryptoError::*;
use super::*;

/// `assert!(matches!(..))` on an `Err`, printing the actual result on failure.
macro_rules! assert_err {
    ($e:expr, $p:pat $(if $g:expr)?) => {{
        let r = $e;
        assert!(matches!(&r, Err($p) $(if $g)?), "{r:?}");
    }};
}

const SLOT: SecretSlot<'static> = SecretSlot::new("connections", "client_secret", "42");

fn spec_of(kid: &str, byte: u8) -> String {
    format!("{kid}:{}", B64.encode([byte; KEY_LEN]))
}

fn ring(spec: &str) -> Keyring {
    Keyring::parse(spec).unwrap()
}

fn two() -> Keyring {
    ring(&format!("{},{}", spec_of("k1", 7), spec_of("k2", 8)))
}

fn seal(kr: &Keyring, text: &str) -> Vec<u8> {
    kr.seal(&SLOT, &Secret::new(text)).unwrap()
}

#[test]
fn round_trip_various_plaintexts() {
    let kr = two();
    let big = "x".repeat(64 * 1024);
    for text in ["hunter2", "", "pässwörd 🔑 秘密", big.as_str()] {
        let sealed = seal(&kr, text);
        assert_eq!(sealed.len(), 2 + 2 + NONCE_LEN + text.len() + TAG_LEN);
        assert_eq!(kr.open(&SLOT, &sealed).unwrap().expose(), text);
    }
}

#[test]
fn header_layout_and_key_id_of() {
    let sealed = seal(&two(), "s");
    assert_eq!(&sealed[..4], &[VERSION, 2, b'k', b'1']);
    assert_eq!(Keyring::key_id_of(&sealed).unwrap(), "k1");
    assert_err!(Keyring::key_id_of(&[]), Malformed);
    assert_err!(Keyring::key_id_of(&sealed[..20]), Malformed);
    let (mut v2, mut bad_kid) = (sealed.clone(), sealed);
    v2[0] = 2;
    assert_err!(Keyring::key_id_of(&v2), Malformed);
    bad_kid[2] = b'!';
    assert_err!(Keyring::key_id_of(&bad_kid), Malformed);
}

#[test]
fn every_bit_flip_fails() {
    let kr = two();
    let sealed = seal(&kr, "top secret");
    for i in 0..sealed.len() {
        for bit in 0..8 {
            let mut t = sealed.clone();
            t[i] ^= 1 << bit;
            assert!(kr.open(&SLOT, &t).is_err(), "byte {i} bit {bit}");
        }
    }
}

#[test]
fn every_truncation_fails_without_panic() {
    let kr = two();
    let sealed = seal(&kr, "top secret");
    for len in 0..sealed.len() {
        assert!(kr.open(&SLOT, &sealed[..len]).is_err(), "length {len}");
        let _ = Keyring::key_id_of(&sealed[..len]);
    }
    // Shorter than header + tag is rejected before the cipher sees it.
    assert_err!(kr.open(&SLOT, &sealed[..4 + NONCE_LEN + 15]), Malformed);
}

#[test]
fn changed_key_id_fails() {
    let kr = two();
    let mut sealed = seal(&kr, "s");
    sealed[3] = b'2'; // relabelled as k2: a different key, so authentication fails
    assert_err!(kr.open(&SLOT, &sealed), Decrypt);
    sealed[3] = b'9';
    assert_err!(kr.open(&SLOT, &sealed), UnknownKeyId(k) if k == "k9");
}

#[test]
fn moved_ciphertext_fails() {
    let kr = two();
    let sealed = seal(&kr, "s");
    for other in [
        SecretSlot::new("connections", "client_secret", "43"),
        SecretSlot::new("connections", "access_token", "42"),
        SecretSlot::new("api_keys", "client_secret", "42"),
        // Same concatenated text, different field boundaries.
        SecretSlot::new("connections", "client_secret4", "2"),
        SecretSlot::new("connections", "client_", "secret\u{0}42"),
    ] {
        assert_err!(kr.open(&other, &sealed), Decrypt);
    }
}

#[test]
fn nul_in_table_or_column_rejected() {
    let (kr, s) = (two(), Secret::new("s"));
    assert_err!(kr.seal(&SecretSlot::new("a\0b", "c", "1"), &s), InvalidSlot);
    assert_err!(kr.seal(&SecretSlot::new("a", "b\0", "1"), &s), InvalidSlot);
    assert!(kr.seal(&SecretSlot::new("a", "b", "row\0ok"), &s).is_ok());
}

#[test]
fn unknown_key_id() {
    let sealed = seal(&ring(&spec_of("old", 1)), "s");
    let err = two().open(&SLOT, &sealed).unwrap_err();
    assert_eq!(err.to_string(), "unknown encryption key id \"old\"");
}

#[test]
fn same_plaintext_seals_differently() {
    let kr = two();
    let (a, b) = (seal(&kr, "same"), seal(&kr, "same"));
    assert_ne!(a[4..4 + NONCE_LEN], b[4..4 + NONCE_LEN]);
    assert_ne!(a, b);
}

#[test]
fn rotation() {
    let old = ring(&spec_of("old", 1));
    let legacy = seal(&old, "legacy");
    let rotated = ring(&format!(" {} ,\n{} ", spec_of("new", 2), spec_of("old", 1)));
    assert_eq!(
        (rotated.active_kid(), rotated.kids()),
        ("new".to_owned(), vec!["new".to_owned(), "old".into()])
    );
    assert!(rotated.has_kid("old") && !rotated.has_kid("k1"));
    assert_eq!(rotated.open(&SLOT, &legacy).unwrap().expose(), "legacy");
    let fresh = seal(&rotated, "fresh");
    assert_eq!(Keyring::key_id_of(&fresh).unwrap(), "new");
    assert_err!(old.open(&SLOT, &fresh), UnknownKeyId(_));
}

#[test]
fn a_check_value_opens_only_under_the_key_and_id_it_was_made_for() {
    let kr = two();
    let k2 = kr.seal_check_value("k2").unwrap();
    assert_eq!(Keyring::key_id_of(&k2).unwrap(), "k2", "sealed under k2, not the active k1");
    assert!(kr.opens_check_value("k2", &k2));
    assert!(ring(&spec_of("k2", 8)).opens_check_value("k2", &k2));
    assert!(!ring(&spec_of("k2", 9)).opens_check_value("k2", &k2), "another key under the same id");
    assert!(!kr.opens_check_value("k1", &k2), "the value of another id");
    assert!(
        !kr.opens_check_value("k2", &seal(&ring(&spec_of("k2", 8)), "connections key check value")),
        "another slot"
    );
    assert!(!kr.opens_check_value("k2", &[]));
    assert!(!ring(&spec_of("k1", 7)).opens_check_value("k2", &k2), "a keyring without the id");
    assert_err!(kr.seal_check_value("k3"), UnknownKeyId(_));
    let mut flipped = kr.seal_check_value("k1").unwrap();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(!kr.opens_check_value("k1", &flipped));
}

#[test]
fn parse_accepts_unpadded_and_round_trips_spec() {
    let padded = spec_of("k1", 7);
    let unpadded = padded.trim_end_matches('=');
    assert_ne!(padded, unpadded);
    let kr = ring(unpadded);
    assert_eq!(kr.to_spec(), padded);
    assert_eq!(two().open(&SLOT, &seal(&kr, "s")).unwrap().expose(), "s");
    assert!(Keyring::parse(&spec_of(&"a".repeat(32), 3)).is_ok());
    assert!(Keyring::parse(&spec_of("A-z_9", 3)).is_ok());
}

#[test]
fn parse_errors_never_echo_key_material() {
    let key = B64.encode([0xAB; KEY_LEN]);
    let (short, long) = (B64.encode([0xAB; 31]), B64.encode([0xAB; 33]));
    let cases = [
        String::new(),
        "  ".to_string(),
        key.clone(),                         // no kid
        format!("k1:{key},"),                // trailing empty entry
        format!("k1:{}!", &key[..43]),       // bad base64
        format!("k1:{short}"),               // wrong length
        format!("k1:{long}"),                // wrong length
        format!(":{key}"),                   // empty kid
        format!("{}:{key}", "a".repeat(33)), // kid too long
        format!("k 1:{key}"),                // bad kid char
        format!("{key}:{key}"),              // key in kid position
        format!("k1:{key},k1:{key}"),        // duplicate
    ];
    for spec in &cases {
        let err = Keyring::parse(spec).unwrap_err();
        assert!(matches!(err, InvalidKeyring(_)), "{spec:?}");
        let msg = err.to_string();
        for secret in [&key[..], &key[..40], &short[..], &long[..], "AB", "q6ur"] {
            assert!(!msg.contains(secret), "{msg:?} leaks {secret:?}");
        }
    }
}

#[test]
fn generate() {
    let kr = Keyring::generate("gen-1").unwrap();
    assert_eq!(kr.kids(), ["gen-1"]);
    let spec = kr.to_spec();
    assert!(spec.starts_with("gen-1:") && spec.len() == 6 + 44);
    assert_eq!(ring(&spec).open(&SLOT, &seal(&kr, "s")).unwrap().expose(), "s");
    assert_ne!(Keyring::generate("gen-1").unwrap().to_spec(), spec);
    assert_err!(Keyring::generate("bad kid"), InvalidKeyring(_));
    assert_err!(Keyring::generate(""), InvalidKeyring(_));
}

#[test]
fn debug_and_display_redact() {
    let s = Secret::new("hunter2");
    assert_eq!((format!("{s:?}"), format!("{s}")), ("[redacted]".into(), "[redacted]".into()));
    assert_eq!(s.clone(), s);
    assert!(!s.is_empty() && Secret::new("").is_empty());
    assert_eq!(s.into_inner(), "hunter2");

    let kr = ring(&format!("{},{}", spec_of("new", 0xAB), spec_of("old", 0xCD)));
    assert_eq!(format!("{kr:?}"), r#"Keyring { active: "new", kids: ["new", "old"] }"#);
    assert!(!format!("{kr:#?}").contains(&B64.encode([0xAB; KEY_LEN])[..8]));
}

#[test]
fn a_new_active_key_goes_in_front_and_the_old_ones_still_open() {
    let old = two();
    let sealed = seal(&old, "old secret");
    let rotated = old.with_new_active(&old.next_kid()).unwrap();
    assert_eq!(rotated.kids(), ["k3", "k1", "k2"]);
    assert_eq!(rotated.open(&SLOT, &sealed).unwrap().expose(), "old secret");
    assert_eq!(Keyring::key_id_of(&seal(&rotated, "new")).unwrap(), "k3");
    assert!(matches!(rotated.with_new_active("k1"), Err(CryptoError::InvalidKeyring(_))));
    let again = Keyring::parse(&rotated.to_spec()).unwrap();
    assert_eq!(again.open(&SLOT, &seal(&rotated, "x")).unwrap().expose(), "x");
}

#[test]
fn the_next_key_id_follows_the_highest_numbered_one() {
    assert_eq!(two().next_kid(), "k3");
    assert_eq!(ring(&spec_of("a", 1)).next_kid(), "k1");
    let spec = format!("{},{},{}", spec_of("k9", 1), spec_of("k10", 2), spec_of("kx", 3));
    assert_eq!(ring(&spec).next_kid(), "k11");
}

#[test]
fn without_removes_only_an_inactive_key_it_holds() {
    let kr = two();
    assert_eq!(kr.without("k2").unwrap().kids(), ["k1"]);
    assert!(kr.without("k1").is_none(), "the active key stays");
    assert!(kr.without("zz").is_none());
}

#[test]
fn the_header_is_how_every_sealed_value_begins() {
    let kr = two();
    let sealed = seal(&kr, "text");
    assert!(sealed.starts_with(&Keyring::header_of("k1")));
    assert!(!sealed.starts_with(&Keyring::header_of("k2")));
    assert!(!sealed.starts_with(&Keyring::header_of("k12")));
}

#[test]
fn every_clone_takes_up_an_adopted_keyring_and_derived_ones_stay_apart() {
    let kr = two();
    let clone = kr.clone();
    let rotated = kr.with_new_active("k3").unwrap();
    let k1_first = rotated.with_active("k1").unwrap();
    assert_eq!(k1_first.kids(), ["k1", "k3", "k2"]);
    assert!(rotated.with_active("zz").is_none());
    assert_eq!(kr.kids(), ["k1", "k2"], "deriving changes nothing");
    clone.adopt(&rotated);
    assert_eq!(kr.active_kid(), "k3");
    assert_eq!(kr.kids(), ["k3", "k1", "k2"]);
    assert_eq!(Keyring::key_id_of(&seal(&kr, "x")).unwrap(), "k3");
    assert_eq!(rotated.open(&SLOT, &seal(&clone, "y")).unwrap().expose(), "y");
}
