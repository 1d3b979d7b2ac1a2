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

#[test]
fn an_allow_list_entry_may_name_a_port() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let host = Cidr::parse("127.0.0.1:8081").unwrap();
    assert!(host.permits(ip("127.0.0.1"), 8081));
    assert!(!host.permits(ip("127.0.0.1"), 8080), "another port of the same host");
    assert!(!host.permits(ip("127.0.0.2"), 8081));
    assert!(host.permits(ip("::ffff:127.0.0.1"), 8081), "IPv4-mapped counts as IPv4");
    let net = Cidr::parse("127.0.0.0/8:8081").unwrap();
    assert!(net.permits(ip("127.9.9.9"), 8081) && !net.permits(ip("127.9.9.9"), 80));
    for v6 in ["[::1]:8081", "[::1]/128:8081", "[::1/128]:8081"] {
        let entry = Cidr::parse(v6).unwrap();
        assert!(entry.permits(ip("::1"), 8081) && !entry.permits(ip("::1"), 8080), "{v6}");
        assert!(!entry.permits(ip("::2"), 8081), "{v6}");
    }
    let any = Cidr::parse("[fd00::]/8").unwrap();
    assert!(any.permits(ip("fd12::1"), 1) && any.permits(ip("fd12::1"), 65535) && !any.has_port());
    assert!(Cidr::parse("127.0.0.1").unwrap().permits(ip("127.0.0.1"), 9), "no port: every port");
    assert!(Cidr::parse("::1").unwrap().permits(ip("::1"), 9), "a bare IPv6 address names no port");
    let list = Cidr::parse_list("127.0.0.1:8081, 10.0.0.0/8").unwrap();
    assert_eq!(list.iter().filter(|c| c.has_port()).count(), 1);
}

#[test]
fn a_bad_port_is_refused_with_the_setting_name() {
    for bad in [
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:http",
        "[::1]:x",
        "[::1",
        "[::1]8081",
        "[::1/64]/64:80",
    ] {
        let err = Cidr::parse(bad).unwrap_err().to_string();
        assert!(err.contains("CONNECTIONS_OUTBOUND_ALLOW_CIDRS"), "{bad}: {err}");
    }
}

/// The `serve` flags as the command line gives them.
fn serve_args(flags: &[&str]) -> ServeArgs {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }
    let argv = std::iter::once("connections").chain(flags.iter().copied());
    <Cli as clap::Parser>::try_parse_from(argv).unwrap().serve
}

#[test]
fn a_metrics_token_is_long_enough_or_absent() {
    let short = Config::from_args(serve_args(&["--metrics-token", "short"])).err().unwrap();
    assert!(short.to_string().contains("CONNECTIONS_METRICS_TOKEN"), "{short}");
    assert!(!short.to_string().contains("short"), "the message does not repeat the token: {short}");
    let blank = Config::from_args(serve_args(&["--metrics-token", " "])).unwrap();
    assert!(blank.metrics_token.is_none());
    let set = Config::from_args(serve_args(&["--metrics-token", "sixteen-chars-ok"])).unwrap();
    assert_eq!(set.metrics_token.unwrap().expose(), "sixteen-chars-ok");
}
