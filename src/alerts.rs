//! Alerts: what tells people that a connection broke or is about to. The "Needs attention" count
//! (`attention`); the sweep that says a refresh token expires within a week (`reconnect_soon`);
//! webhooks — their events (`events`), Standard Webhooks signatures (`signature`), the endpoints
//! admins manage (`endpoints`) and the worker that sends the delivery queue (`delivery`), by HTTP or by email
//! (`email`).

pub mod attention;
pub mod delivery;
pub mod email;
pub mod endpoints;
pub mod events;
pub mod reconnect_soon;
pub mod signature;
