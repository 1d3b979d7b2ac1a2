//! Where a service sends credentials, by origin (scheme, host and port): the API base URL for every
//! connection's credentials, and for OAuth2 the token, refresh and revoke endpoints. A connection
//! records the destinations it was connected under, and a service's client secret those it was set
//! under; a secret is sent only to an origin it was entrusted to, so that an edit of a service's URLs
//! (by any SDAdmin) cannot redirect another owner's credentials.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::captures::{ALTERNATIVES, alternatives};
use crate::domain::service::ServiceConfig;
use crate::domain::variables::{origin_matches, origin_pattern};

/// What a destination is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Invokes and tests (the API base URL).
    Api,
    /// Code exchanges and client-credentials grants.
    Token,
    /// Refresh requests.
    Refresh,
    /// RFC 7009 revocation.
    Revoke,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Api, Role::Token, Role::Refresh, Role::Revoke];

    /// The service setting people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Role::Api => "API base URL",
            Role::Token => "access token URL",
            Role::Refresh => "refresh token URL",
            Role::Revoke => "revoke URL",
        }
    }

    /// The endpoints that receive the client secret.
    pub fn gets_client_secret(self) -> bool {
        self != Role::Api
    }
}

/// `scheme://host:port` of a URL, the port always written (`https://a.example:443`), so that two
/// spellings of one origin compare equal. `None` for a URL without a host.
pub fn origin_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    let host = url.host_str().filter(|h| !h.is_empty())?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{}:{port}", url.scheme(), host.to_ascii_lowercase()))
}

/// An origin as people write it: without the scheme's default port; a pattern's alternatives as
/// "one of a, b".
pub fn shown(origin: &str) -> String {
    if origin.contains(ALTERNATIVES) {
        let all: Vec<String> = origin.split(ALTERNATIVES).map(shown).collect();
        return format!("one of {}", all.join(", "));
    }
    match (origin.strip_suffix(":443"), origin.strip_suffix(":80")) {
        (Some(bare), _) if origin.starts_with("https://") => bare.to_owned(),
        (_, Some(bare)) if origin.starts_with("http://") => bare.to_owned(),
        _ => origin.to_owned(),
    }
}

/// The origin each role sends to. Stored as JSON on a connection (`entrusted_origins`) and on a
/// service (`client_secret_origins`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Destinations(BTreeMap<Role, String>);

/// One role whose origin is new or different.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub role: Role,
    pub from: Option<String>,
    pub to: String,
}

impl Move {
    /// "the access token URL moves from https://a:443 to https://b:443".
    pub fn describe(&self) -> String {
        match &self.from {
            Some(from) => {
                format!("the {} moves from {} to {}", self.role.label(), shown(from), shown(&self.to))
            }
            None => format!("the {} is now {}", self.role.label(), shown(&self.to)),
        }
    }
}

impl Destinations {
    /// The destinations of a service's settings. A URL that names a connection variable in its host
    /// gives a pattern (`https://{subdomain}.zendesk.com:443`, see `variables::origin_pattern`); one
    /// that starts with an origin capture gives the origins its allow-list can give, as alternatives;
    /// a connection's resolved URLs give plain origins.
    pub fn of(api_base_url: Option<&str>, config: &ServiceConfig) -> Destinations {
        let captures = config.oauth().map_or(&[][..], |o| o.captured_values.as_slice());
        let origin = |url: &str| {
            let head = captures.iter().find(|c| url.starts_with(&format!("{{{}}}", c.name)));
            match head {
                Some(capture) => alternatives(&capture.entries()),
                None => origin_pattern(url),
            }
        };
        let mut map = BTreeMap::new();
        let mut put = |role, url: Option<&str>| {
            if let Some(origin) = url.and_then(origin) {
                map.insert(role, origin);
            }
        };
        put(Role::Api, api_base_url);
        if let Some(o) = config.oauth() {
            put(Role::Token, Some(&o.token_url));
            put(Role::Refresh, Some(o.refresh_endpoint()));
            put(Role::Revoke, o.revoke_url.as_deref());
        }
        Destinations(map)
    }

    /// Only the endpoints that receive the client secret.
    pub fn client_secret_part(&self) -> Destinations {
        Destinations(
            self.0
                .iter()
                .filter(|(role, _)| role.gets_client_secret())
                .map(|(r, o)| (*r, o.clone()))
                .collect(),
        )
    }

    pub fn get(&self, role: Role) -> Option<&str> {
        self.0.get(&role).map(String::as_str)
    }

    /// Whether a secret entrusted to these destinations may go to `url` in `role`.
    pub fn allows(&self, role: Role, url: &str) -> bool {
        matches!((self.get(role), origin_of(url)), (Some(entrusted), Some(origin)) if entrusted == origin)
    }

    /// Whether the client secret, entrusted to these destinations, may go to `url` (any of its
    /// endpoints' origins: a token URL may share its origin with the revoke URL). A pattern's
    /// variable matches exactly one DNS label (`variables::origin_matches`).
    pub fn allows_any(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|origin| self.0.values().any(|o| origin_matches(o, &origin)))
    }

    /// The roles of `new` that send to an origin `self` did not have for them. A role `new` drops
    /// sends nothing anywhere, so it is no move.
    pub fn moves_to(&self, new: &Destinations) -> Vec<Move> {
        new.0
            .iter()
            .filter(|(role, origin)| self.get(**role) != Some(origin.as_str()))
            .map(|(role, origin)| Move {
                role: *role,
                from: self.get(*role).map(str::to_owned),
                to: origin.clone(),
            })
            .collect()
    }

    /// The client-secret endpoints of `new` with an origin (or an alternative) none of `self`'s.
    pub fn secret_moves_to(&self, new: &Destinations) -> Vec<Move> {
        let known: Vec<&str> = self.0.values().flat_map(|o| o.split(ALTERNATIVES)).collect();
        new.client_secret_part()
            .0
            .iter()
            .filter(|(_, origin)| !origin.split(ALTERNATIVES).all(|o| known.contains(&o)))
            .map(|(role, origin)| Move {
                role: *role,
                from: self.get(*role).map(str::to_owned),
                to: origin.clone(),
            })
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Parses a stored value; an unreadable one entrusts nothing.
    pub fn from_json(raw: &str) -> Destinations {
        serde_json::from_str(raw).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
