//! One integration-test binary. Each module tests one area through the public HTTP surface (or the
//! CLI), on SQLite by default and on PostgreSQL when `TEST_DATABASE_URL` is set.

mod support;

mod access;
mod backup;
mod cli;
mod connections;
mod connections_logs;
mod connections_manage;
mod connections_oauth;
mod connections_search;
mod crash;
mod db_faults;
mod entrusted;
mod headers;
mod hostile_input;
mod invoke;
mod keys;
mod lockout;
mod logs;
mod migrations;
mod no_refresh;
mod openapi;
mod provider_text;
mod refresh;
mod refresh_faults;
mod services_api;
mod services_pages;
mod services_totals;
mod shutdown;
mod sign_in;
mod slow_bodies;
mod templates;
mod two_instances;
mod upgrades;
mod upstream_failures;
mod users;
mod value_prefix;
