//! Connections: a self-hosted console where SDAdmins register custom services, connect them and let
//! scripts use them without ever seeing a secret. `app::build` is the one way in.

// The OpenAPI document's component schemas are one `json!` literal, deeper than the default limit.
#![recursion_limit = "256"]

pub mod activity;
pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod body_deadline;
pub mod cache;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod injection;
pub mod input;
pub mod keys;
pub mod lists;
pub mod logs;
pub mod metrics;
pub mod models;
pub mod oauth;
pub mod ops;
pub mod outbound;
pub mod password;
pub mod private_files;
pub mod random;
pub mod refresher;
pub mod request_id;
pub mod routes;
pub mod search;
pub mod security;
pub mod setup;
pub mod shutdown;
pub mod state;
pub mod throttle;
pub mod web;
