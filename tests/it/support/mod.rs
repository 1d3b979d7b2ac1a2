//! What the tests share: the running app and its database, a browser and the one API client, the
//! request bodies they start from, the servers the app talks to (a fake OAuth provider, a recording
//! upstream and a streaming one, a relay that cuts the database off), and the checks that a secret
//! never shows. Test modules import from here and never from each other.

mod api;
mod app;
mod browser;
mod cli;
mod db;
mod fake_provider;
mod fixtures;
mod keys;
mod oauth;
mod prometheus;
mod provider_styles;
mod proxy;
mod receiver;
mod relay;
mod secrets;
mod smtp;
mod stream_upstream;
mod upstream;
mod wait;

pub use api::*;
pub use app::*;
pub use browser::*;
pub use cli::*;
pub use db::*;
pub use fake_provider::*;
pub use fixtures::*;
pub use keys::*;
pub use oauth::*;
pub use prometheus::*;
pub use proxy::*;
pub use receiver::*;
pub use relay::*;
pub use secrets::*;
pub use smtp::*;
pub use stream_upstream::*;
pub use upstream::*;
pub use wait::*;
