//! Unit tests of `outbound`.

use super::*;

fn policy() -> AddressPolicy {
    AddressPolicy::default()
}

#[test]
fn internal_addresses_are_refused_however_they_are_written() {
    for raw in [
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0177.0.0.1/",
        "https://0.0.0.0/",
        "https://[fd00::1]/",
        "https://[fe80::1]/",
        "https://100.64.0.1/",
    ] {
        let url = Url::parse(raw).unwrap();
        assert!(policy().check_url(&url).is_err(), "{raw} should be refused");
    }
    assert!(policy().check_url(&Url::parse("https://93.184.216.34/").unwrap()).is_ok());
    assert!(policy().check_url(&Url::parse("https://api.example.com/").unwrap()).is_ok(), "names are checked after resolution");
}

#[test]
fn the_allow_list_and_http_switch_open_exactly_what_they_say() {
    let mut p = policy();
    p.allow = vec![Cidr::parse("127.0.0.1/32").unwrap()];
    assert!(p.check_url(&Url::parse("http://127.0.0.1:8080/").unwrap()).is_err(), "http is still off");
    p.allow_http = true;
    assert!(p.check_url(&Url::parse("http://127.0.0.1:8080/").unwrap()).is_ok());
    assert!(p.check_url(&Url::parse("http://127.0.0.2/").unwrap()).is_err());
    assert!(p.check_url(&Url::parse("http://u:p@127.0.0.1/").unwrap()).is_err());
    assert!(p.check_url(&Url::parse("ftp://example.com/").unwrap()).is_err());
}

#[test]
fn messages_never_show_the_query_string() {
    let url = Url::parse("https://user:pw@api.example.com/x?api_key=SECRET#f").unwrap();
    let shown = redacted(&url);
    assert_eq!(shown, "https://api.example.com/x");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
    let config = Config::new("sqlite://x", "data".into(), "127.0.0.1:0");
    let out = Outbound::new(&config).unwrap();
    let url = Url::parse("https://localhost:9/").unwrap();
    let err = out.send(&url, out.request(reqwest::Method::GET, &url).unwrap(), None).await.err().unwrap();
    assert!(matches!(err, OutboundError::Refused(..)), "{err}");
}
