//! Unit tests of `pg_tls`: which URLs ask for TLS, and what libpq gets instead.

use super::*;

fn split_in(url: &str) -> Result<Option<Split>, String> {
    split(url, Path::new("/run/app/pg-tls-x"))
}

#[test]
fn urls_that_do_not_ask_for_tls_are_left_alone() {
    for url in [
        "sqlite://data/connections.db",
        "postgres://app@db/connections",
        "postgres://app@db/connections?sslmode=disable",
        "postgres://app@db/connections?sslmode=prefer&connect_timeout=3",
    ] {
        assert_eq!(split_in(url), Ok(None), "{url}");
    }
}

#[test]
fn libpq_gets_the_socket_folder_and_no_tls_parameter() {
    let url = "postgres://app:p%40ss@db.example.com:6432/connections?sslmode=verify-full\
               &sslrootcert=/etc/ca.pem&application_name=x&connect_timeout=3";
    let Split { target, libpq_url } = split_in(url).unwrap().unwrap();
    assert_eq!(
        target,
        Target {
            host: "db.example.com".into(),
            connect_to: "db.example.com".into(),
            port: 6432,
            verify: Verify::Full,
            root_cert: Some("/etc/ca.pem".into()),
        }
    );
    assert_eq!(
        libpq_url,
        "postgres://app:p%40ss@/connections?application_name=x&connect_timeout=3\
         &host=%2Frun%2Fapp%2Fpg-tls-x&port=6432&sslmode=disable"
    );
}

#[test]
fn each_mode_checks_what_libpq_would() {
    let verify = |query: &str| split_in(&format!("postgres://db/c?{query}")).unwrap().unwrap().target.verify;
    assert_eq!(verify("sslmode=require"), Verify::Nothing);
    assert_eq!(verify("sslmode=require&sslrootcert=/ca.pem"), Verify::Ca, "libpq verifies given a CA");
    assert_eq!(verify("sslmode=verify-ca"), Verify::Ca);
    assert_eq!(verify("sslmode=verify-full&sslrootcert=system"), Verify::Full);
    assert_eq!(verify("requiressl=1"), Verify::Nothing);
    let default_port =
        split_in("postgres://u@10.0.0.5/c?sslmode=require&hostaddr=10.0.0.6").unwrap().unwrap();
    assert_eq!((default_port.target.port, default_port.target.connect_to.as_str()), (5432, "10.0.0.6"));
}

#[test]
fn what_the_relay_cannot_honour_is_refused_without_repeating_the_url() {
    for query in [
        "sslmode=verify-everything",
        "sslmode=require&sslcert=/c.pem",
        "sslmode=require&sslnegotiation=direct",
        "sslmode=require&host=/var/run/postgresql",
        "sslmode=require&host=a,b",
    ] {
        let url = format!("postgres://app:hunter2secret@db/c?{query}");
        let refused = split_in(&url).unwrap_err();
        assert!(!refused.contains("hunter2secret"), "{refused}");
    }
}
