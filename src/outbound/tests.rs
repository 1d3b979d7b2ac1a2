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
    assert!(
        policy().check_url(&Url::parse("https://api.example.com/").unwrap()).is_ok(),
        "names are checked after resolution"
    );
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

#[test]
fn an_allow_list_entry_with_a_port_opens_that_port_only() {
    let mut p = policy();
    p.allow_http = true;
    p.allow = Cidr::parse_list("127.0.0.1:8081,[::1]:8082,10.0.0.0/8:443").unwrap();
    for ok in ["http://127.0.0.1:8081/", "http://[::1]:8082/x", "https://10.1.2.3/", "http://10.1.2.3:443/"] {
        assert!(p.check_url(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
    }
    for refused in [
        "http://127.0.0.1:8080/",
        "http://127.0.0.1/",
        "https://127.0.0.1/",
        "http://[::1]:8081/",
        "http://[::ffff:127.0.0.1]:8082/",
        "http://10.1.2.3/",
        "https://10.1.2.3:8443/",
    ] {
        assert!(p.check_url(&Url::parse(refused).unwrap()).is_err(), "{refused}");
    }
    assert!(p.permits("93.184.216.34".parse().unwrap(), 8080), "public addresses on any port");
}

#[tokio::test]
async fn a_name_resolves_only_to_addresses_allowed_on_the_port_of_its_client() {
    let policy =
        Arc::new(AddressPolicy { allow: Cidr::parse_list("127.0.0.1:8081").unwrap(), allow_http: true });
    let resolve = |port| {
        let resolver = PolicyResolver { policy: policy.clone(), port: Some(port) };
        resolver.resolve("localhost".parse().unwrap())
    };
    let found: Vec<SocketAddr> = resolve(8081).await.unwrap().collect();
    assert!(!found.is_empty() && found.iter().all(|a| a.ip() == IpAddr::from([127, 0, 0, 1])), "{found:?}");
    let refused = resolve(8080).await.err().unwrap().to_string();
    assert!(refused.contains("is not allowed"), "{refused}");
}

/// An error with a cause, as reqwest and hyper chain theirs.
#[derive(Debug)]
struct Caused(&'static str, Option<Box<dyn std::error::Error + Send + Sync>>);

impl std::fmt::Display for Caused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Caused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

fn chain(outer: &'static str, middle: &'static str, inner: std::io::Error) -> Caused {
    Caused(outer, Some(Box::new(Caused(middle, Some(Box::new(inner))))))
}

#[test]
fn connection_failures_are_named_by_their_cause_not_by_the_clients_wording() {
    use std::io::{Error, ErrorKind};
    let refused =
        chain("client error (Connect)", "tcp connect error", Error::from(ErrorKind::ConnectionRefused));
    assert_eq!(failure(&refused, "api.example.com", true), "connection refused by the upstream");
    let reset = chain("client error (Canceled)", "connection error", Error::from(ErrorKind::ConnectionReset));
    assert_eq!(failure(&reset, "api.example.com", false), "connection reset by the upstream");
    let dns =
        chain("client error (Connect)", "dns error", Error::other("failed to lookup address information"));
    assert_eq!(failure(&dns, "nowhere.example", true), "the name nowhere.example does not resolve");
    let tls = Caused(
        "client error (Connect)",
        Some(Box::new(Error::other("invalid peer certificate: UnknownIssuer"))),
    );
    assert_eq!(
        failure(&tls, "api.example.com", true),
        "TLS handshake failed: invalid peer certificate: UnknownIssuer"
    );
    let other = chain("client error (Connect)", "tcp connect error", Error::other("too many open files"));
    assert_eq!(
        failure(&other, "api.example.com", true),
        "the request to the upstream failed: too many open files"
    );
}

#[test]
fn waits_are_written_as_people_read_them() {
    assert_eq!(seconds(Duration::from_millis(200)), "200 ms");
    assert_eq!(seconds(Duration::from_secs(30)), "30 s");
    assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
}
