//! Operations shared by the HTML app and the JSON API: validate, store, audit. Handlers on both
//! sides stay thin by calling these.

pub mod access_tokens;
pub mod authorize;
pub mod bulk;
pub mod captured;
pub mod connections;
pub mod entrust;
pub mod invoke;
pub mod proxy;
pub mod service_io;
pub mod services;
pub mod tokens;
pub mod transfer;
