//! The product's concepts, independent of HTTP and SQL: what a custom service and a connection are,
//! where their credentials may be sent, the rules their fields follow, and how raw input (a form or
//! JSON) becomes a valid service.

pub mod captures;
pub mod connection;
pub mod destinations;
pub mod endpoint_url;
pub mod provider;
pub mod reconnect_soon;
pub mod service;
pub mod service_export;
pub mod service_input;
pub mod service_oauth;
pub mod service_provider;
pub mod service_rules;
pub mod validate;
pub mod variables;
