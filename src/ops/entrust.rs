//! The use-time half of `domain::destinations`: a connection's secrets go only to an origin they
//! were entrusted to. A connection found sending elsewhere (its service changed outside the app) is
//! set aside until its owner reconnects, and says why.

use crate::domain::connection::Status;
use crate::domain::destinations::{Role, origin_of, shown};
use crate::error::AppError;
use crate::models::connection::{ConnectionRow, unresolved};
use crate::models::destinations;
use crate::state::AppState;

/// Refuses to send `row`'s secrets to `url` in `role` unless they were entrusted to its origin.
pub async fn ensure_entrusted(
    state: &AppState,
    row: &ConnectionRow,
    role: Role,
    url: &str,
) -> Result<(), AppError> {
    let entrusted = row.entrusted();
    if entrusted.allows(role, url) {
        return Ok(());
    }
    let to = origin_of(url).map_or_else(|| url.to_owned(), |o| shown(&o));
    let message = match (unresolved(url), entrusted.get(role)) {
        // The service names a value the provider returned to connections connected after it did.
        (Some(name), _) => format!(
            "The service's {} names {{{name}}}, a value the provider returns when a connection is \
             connected, and this connection has none the service allows. The owner must reconnect to get it.",
            role.label()
        ),
        (None, Some(from)) => format!(
            "The service now sends this connection's credentials to {to} ({}), but they were entrusted to \
             {from}. The owner must reconnect to entrust them to the new address.",
            role.label(),
            from = shown(from),
        ),
        (None, None) => format!(
            "The service now sends this connection's credentials to {to} ({}), which they were not \
             entrusted to. The owner must reconnect to entrust them to it.",
            role.label()
        ),
    };
    let (id, now, shown) = (row.id, state.clock.now(), message.clone());
    state.db.run(move |c| Ok(destinations::set_aside(c, id, &shown, now)?)).await?;
    tracing::warn!(
        connection = row.link_name,
        destination = to,
        "refused to send credentials where they were not entrusted"
    );
    Err(AppError::NotConnected { status: Status::NeedsReconnect.as_str(), message })
}
