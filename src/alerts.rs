//! Alerts: what tells people that a connection broke. The "Needs attention" count (`attention`);
//! webhooks — their events (`events`), Standard Webhooks signatures (`signature`), the endpoints
//! admins manage (`endpoints`) and the worker that sends the delivery queue (`delivery`).

pub mod attention;
pub mod delivery;
pub mod endpoints;
pub mod events;
pub mod signature;
