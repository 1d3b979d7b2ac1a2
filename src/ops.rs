//! Operations shared by the HTML app and the JSON API: validate, store, audit. Handlers on both
//! sides stay thin by calling these.

pub mod access_tokens;
pub mod audit;
pub mod authorize;
pub mod bulk;
pub mod captured;
pub mod connections;
pub mod entrust;
pub mod invoke;
pub mod passwords;
pub mod proxy;
pub mod service_io;
pub mod services;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
pub mod transfer;
pub mod users;
