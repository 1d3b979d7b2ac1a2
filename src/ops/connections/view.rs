//! What pages and the API show of one connection (`ConnectionView`): its own columns, its service's
//! label, its owner, and what follows from them; never a credential.

use crate::domain::captures::CapturedValue;
use crate::domain::connection::Status;
use crate::domain::reconnect_soon;
use crate::domain::service::{AuthType, GrantType};
use crate::domain::variables::Values;
use crate::models::connection::Loaded;

/// A connection as pages and the API show it: never a credential.
#[derive(Debug, Clone)]
pub struct ConnectionView {
    pub link_name: String,
    pub name: String,
    pub service_link: String,
    pub service_name: String,
    pub auth_type: AuthType,
    pub grant_type: Option<GrantType>,
    pub owner: String,
    pub owner_id: i64,
    pub status: Status,
    pub status_message: Option<String>,
    pub scopes_requested: Vec<String>,
    pub scopes_granted: Option<Vec<String>>,
    /// Its values for the service's connection variables (not secrets).
    pub variables: Values,
    /// What the provider returned at connect time, by name (not secrets).
    pub captured: Values,
    /// The values its service keeps from the provider, whether returned yet or not.
    pub captures: Vec<CapturedValue>,
    /// The API base URL with its values in it.
    pub api_base_url: Option<String>,
    pub has_refresh_token: bool,
    pub connected_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// When the refresh token expires, as the provider said.
    pub refresh_expires_at: Option<i64>,
    pub revoke_outcome: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_refresh_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub use crate::domain::reconnect_soon::RECONNECT_SOON_SECS;

impl ConnectionView {
    /// Whether its refresh token expires within `RECONNECT_SOON_SECS` (refreshes cannot extend it).
    pub fn reconnect_soon(&self, now: i64) -> bool {
        reconnect_soon::left(self.status, self.refresh_expires_at, now).is_some()
    }

    /// Why it should be reconnected soon, if it should.
    pub fn reconnect_reason(&self, now: i64) -> Option<String> {
        reconnect_soon::left(self.status, self.refresh_expires_at, now).map(reconnect_soon::reason)
    }

    /// Each value its service keeps from the provider, with what the provider returned (if yet).
    pub fn from_provider(&self) -> Vec<(&CapturedValue, Option<&String>)> {
        self.captures.iter().map(|c| (c, self.captured.get(&c.name))).collect()
    }

    /// Requested scopes the provider did not grant (e.g. no `offline_access`: no refresh token).
    pub fn scopes_not_granted(&self) -> Vec<String> {
        match &self.scopes_granted {
            Some(granted) => self.scopes_requested.iter().filter(|s| !granted.contains(s)).cloned().collect(),
            None => Vec::new(),
        }
    }
}

impl Loaded {
    /// What may be shown of it.
    pub fn view(&self) -> ConnectionView {
        let (row, service) = (&self.row.meta, &self.service);
        ConnectionView {
            link_name: row.link_name.clone(),
            name: row.name.clone(),
            service_link: service.link_name.clone(),
            service_name: service.name.clone(),
            auth_type: service.auth_type,
            grant_type: self.config().ok().and_then(|c| c.oauth()).map(|o| o.grant_type),
            owner: self.owner.clone(),
            owner_id: row.owner_id,
            status: row.status,
            status_message: row.status_message.clone(),
            scopes_requested: row.scopes_requested(),
            scopes_granted: row.scopes_granted(),
            variables: row.variables(),
            captured: row.captured(),
            captures: self
                .config()
                .ok()
                .and_then(|c| c.oauth())
                .map(|o| o.captured_values.clone())
                .unwrap_or_default(),
            api_base_url: self.api_base_url().ok().flatten().map(str::to_owned),
            has_refresh_token: row.has_refresh_token,
            connected_at: row.connected_at,
            expires_at: row.expires_at,
            refresh_expires_at: row.refresh_expires_at,
            revoke_outcome: row.revoke_outcome.clone(),
            last_used_at: row.last_used_at,
            last_refresh_at: row.last_refresh_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
