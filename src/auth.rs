//! Authentication and authorization in the browser and the API: sessions, the SDAdmin guards (which
//! also check API tokens), CSRF protection, and the nonces of links that start something.

pub mod actor;
pub mod csrf;
pub mod guard;
pub mod nonce;
pub mod session;
