//! The product's concepts, independent of HTTP and SQL: what a custom service is, the rules its
//! fields follow, and how raw input (a form or JSON) becomes a valid one.

pub mod connection;
pub mod destinations;
pub mod service;
pub mod service_input;
pub mod service_oauth;
pub mod validate;

/// The label people read for a connection status.
pub fn connection_status_label(status: &str) -> &'static str {
    match status {
        "connected" => "Connected",
        "disconnected" => "Disconnected",
        "needs_reconnect" => "Needs reconnect",
        _ => "Not connected",
    }
}

/// The badge colour class for a connection status.
pub fn connection_status_badge(status: &str) -> &'static str {
    match status {
        "connected" => "badge-green",
        "disconnected" => "badge-red",
        "needs_reconnect" => "badge-amber",
        _ => "badge-grey",
    }
}
