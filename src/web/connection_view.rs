//! What the connection pages show besides a connection itself: a page of the list with what its
//! filters offer, and the connect action that fits a connection's service.

use crate::domain::service::{AuthType, GrantType};
use crate::error::AppError;
use crate::lists::Total;
use crate::lists::connections::{self as list, ConnectionListRow};
use crate::models::attention;
use crate::models::service as services;
use crate::ops::connections::ConnectionView;
use crate::state::AppState;
use crate::web::list_params::ListParams;

/// How "Connect" works for a connection's kind of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectAction {
    /// A page with a form for API key values or a username and password.
    Credentials,
    /// A GET link (carrying a single-use nonce) that redirects to the provider's consent page.
    Consent,
    /// The token request is made at once (a GET link with a nonce too).
    ClientCredentials,
}

impl ConnectAction {
    pub fn of(view: &ConnectionView) -> ConnectAction {
        match (view.auth_type, view.grant_type) {
            (AuthType::OAuth2, Some(GrantType::ClientCredentials)) => ConnectAction::ClientCredentials,
            (AuthType::OAuth2, _) => ConnectAction::Consent,
            _ => ConnectAction::Credentials,
        }
    }
}

/// Up to this many services, the list's service filter is a drop-down list.
const SERVICE_CHOICES_MAX: i64 = 200;

/// One page of the list, and what the filters offer.
pub struct ListData {
    pub rows: Vec<ConnectionListRow>,
    pub total: Total,
    /// The service filter's choices (link name, name, auth type); `None` when there are too many for
    /// a drop-down list (a text field then).
    pub services: Option<Vec<(String, String, String)>>,
    pub has_services: bool,
    /// How many of the viewer's connections need attention, on My Connections without a status
    /// filter (its banner links to them).
    pub mine_needing_attention: i64,
}

/// One page of the list for `viewer`, its total and the filter choices, on one pooled connection.
pub async fn page(state: &AppState, params: &ListParams, viewer: i64) -> Result<ListData, AppError> {
    let (params, names, now) = (params.clone(), state.names.clone(), state.clock.now());
    state
        .db
        .read(move |c| {
            let service_id = match params.service.as_str() {
                "" => None,
                link => Some(services::find(c, link)?.map_or(-1, |s| s.id)),
            };
            let listing = list::list(c, &params.connection_query(viewer, service_id, now), Some(&names))?;
            let services =
                (listing.service_count <= SERVICE_CHOICES_MAX).then(|| services::names(c)).transpose()?;
            let mine_needing_attention = match params.all() || !params.status.is_empty() {
                true => 0,
                false => attention::count(c, Some(viewer), now)?,
            };
            Ok(ListData {
                rows: listing.rows,
                total: listing.total,
                services,
                has_services: listing.service_count > 0,
                mine_needing_attention,
            })
        })
        .await
}
