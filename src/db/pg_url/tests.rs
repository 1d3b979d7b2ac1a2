//! Unit tests of `pg_url`.

use super::add_defaults;

#[test]
fn every_client_timeout_is_added_to_a_postgres_url_that_sets_none() {
    assert_eq!(
        add_defaults("postgres://app@db.internal/connections", false),
        "postgres://app@db.internal/connections?connect_timeout=5&keepalives=1&keepalives_idle=5\
         &keepalives_interval=2&keepalives_count=3&tcp_user_timeout=10000"
    );
}

#[test]
fn an_operators_own_values_are_kept_and_only_the_missing_ones_added() {
    let url = "postgresql://app:pw@db/c?sslmode=require&connect_timeout=30&tcp_user_timeout=0";
    let out = add_defaults(url, false);
    assert!(out.starts_with(url), "{out}");
    assert_eq!(out.matches("connect_timeout=").count(), 1, "{out}");
    assert_eq!(out.matches("tcp_user_timeout=").count(), 1, "{out}");
    assert!(
        out.ends_with("&keepalives=1&keepalives_idle=5&keepalives_interval=2&keepalives_count=3"),
        "{out}"
    );
    assert_eq!(add_defaults("postgres://db/c?", false).matches("?connect_timeout=5&keepalives=1").count(), 1);
}

#[test]
fn pgconnect_timeout_in_the_environment_counts_as_set() {
    assert!(!add_defaults("postgres://db/c", true).contains("connect_timeout"));
}

#[test]
fn sqlite_urls_are_left_alone() {
    assert_eq!(add_defaults("sqlite://data/connections.db", false), "sqlite://data/connections.db");
    assert_eq!(add_defaults("data/x.db", false), "data/x.db");
}
