//! The product's concepts, independent of HTTP and SQL: what a custom service is, the rules its
//! fields follow, and how raw input (a form or JSON) becomes a valid one.

pub mod connection;
pub mod destinations;
pub mod service;
pub mod service_input;
pub mod service_oauth;
pub mod validate;
