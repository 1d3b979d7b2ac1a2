//! One file per aggregate: row, insert and view structs plus the queries that own them.

pub mod api_token;
pub mod attention;
pub mod audit;
pub mod connection;
pub mod destinations;
pub mod event;
pub mod lease;
pub mod nonce;
pub mod oauth_flow;
pub mod service;
pub mod session;
pub mod setting;
pub mod smtp;
pub mod user;
pub mod webhook;
pub mod webhook_delivery;
