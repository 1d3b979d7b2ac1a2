//! Authentication and authorization: password hashing, sessions and API tokens, the SDAdmin guards,
//! and CSRF protection.

pub mod csrf;
pub mod guard;
pub mod nonce;
pub mod password;
pub mod session;
pub mod token;
