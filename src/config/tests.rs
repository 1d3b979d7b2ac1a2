//! Unit tests of `config`.

use super::*;

#[test]
fn cidr_contains_hosts_inside_only() {
    let net = Cidr::parse("127.0.0.0/8").unwrap();
    assert!(net.contains("127.1.2.3".parse().unwrap()));
    assert!(net.contains("::ffff:127.0.0.1".parse().unwrap()));
    assert!(!net.contains("128.0.0.1".parse().unwrap()));
    let all = Cidr::parse("0.0.0.0/0").unwrap();
    assert!(all.contains("8.8.8.8".parse().unwrap()));
    let host = Cidr::parse("::1").unwrap();
    assert!(host.contains("::1".parse().unwrap()));
    assert!(!host.contains("::2".parse().unwrap()));
}

#[test]
fn cidr_rejects_garbage_with_the_setting_name() {
    for bad in ["nope", "10.0.0.0/33", "::/129", "1.2.3.4/x"] {
        let err = Cidr::parse(bad).unwrap_err().to_string();
        assert!(err.contains("CONNECTIONS_OUTBOUND_ALLOW_CIDRS"), "{err}");
    }
    assert_eq!(Cidr::parse_list(" , ").unwrap(), vec![]);
}

#[test]
fn base_url_must_be_absolute_http() {
    for bad in ["localhost:8080", "ftp://x", "http://u:p@host", "/relative"] {
        assert!(parse_base_url(bad).is_err(), "{bad}");
    }
    assert!(parse_base_url("https://desk.example.com/portal").is_ok());
}
