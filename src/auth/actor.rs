//! Who makes a change: the signed-in SDAdmin (or the owner of the API token) and the client address
//! the request came from, as the audit log records them.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::models::audit::By;
use crate::models::user::User;

/// The client address of a request: the TCP peer's. Forwarded headers are not read, since any client
/// can set them; behind a reverse proxy every request has the proxy's address. The sign-in throttle,
/// API token use and the audit log all take it from here. IPv4 clients of a dual-stack socket show
/// as IPv4.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip().to_canonical())
}

/// `client_ip` as text.
pub fn client_address(req: &HttpRequest) -> Option<String> {
    client_ip(req).map(|ip| ip.to_string())
}

/// A user acting from an address. It reads as the `User` it holds (`actor.username`), so operations
/// that check ownership take it where they took the user.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    pub source: Option<String>,
}

impl Actor {
    pub fn new(user: User, req: &HttpRequest) -> Actor {
        Actor { user, source: client_address(req) }
    }

    /// This actor as the audit log names them.
    pub fn by(&self) -> By<'_> {
        By { actor_id: Some(self.user.id), actor: &self.user.username, source: self.source.as_deref() }
    }
}

impl std::ops::Deref for Actor {
    type Target = User;

    fn deref(&self) -> &User {
        &self.user
    }
}
