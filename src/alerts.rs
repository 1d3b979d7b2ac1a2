//! Alerts: what tells people that a connection broke. The "Needs attention" count (`attention`);
//! webhooks — the events (`events`), their signatures (`signature`) and the delivery queue's worker
//! (`delivery`).

pub mod attention;
