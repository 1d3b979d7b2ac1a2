//! Authentication and authorization: password hashing, sessions and API tokens, the SDAdmin guards,
//! the per-address sign-in throttle, and CSRF protection.

pub mod csrf;
pub mod guard;
pub mod nonce;
pub mod session;
