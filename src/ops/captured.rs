//! The values a provider returns at connect time (`domain::captures`) on their way to a connection:
//! the callback's before the code exchange (Zoho's data centre chooses the token URL), the token
//! response's after it, and those a refresh brings again. A connect with a value that is refused,
//! or without one that the service's URLs need, stores nothing; a refresh keeps what it has.

use crate::domain::captures::CapturedValue;
use crate::domain::destinations::Destinations;
use crate::domain::service::ServiceConfig;
use crate::domain::variables::Values;
use crate::error::AppError;
use crate::models::connection::{ConnectionRow, Loaded, unresolved};
use crate::models::service::ServiceRow;

/// What each declared token-response value of an answer says: the value, or why it is refused.
pub type Found = [(String, Result<String, String>)];

/// The connection with the callback's values (every earlier one dropped): what the code exchange
/// resolves its token URL with. `Err` says why the connect ends here.
pub fn after_callback(loaded: &Loaded, query: &[(String, String)]) -> Result<Loaded, String> {
    let declared = declared(loaded.config().map_err(|e| e.public_message())?);
    let values = crate::domain::captures::from_callback(declared, query)?;
    let staged = loaded.with_captured(&values);
    if let Some(o) = staged.config().map_err(|e| e.public_message())?.oauth()
        && let Some(name) = unresolved(&o.token_url)
    {
        return Err(missing(declared, name));
    }
    Ok(staged)
}

/// The connection with every value of the connect, the callback's and the token response's; `Err`
/// for a refused value, or a missing one that one of the service's URLs names.
pub fn after_tokens(staged: &Loaded, found: &Found) -> Result<Loaded, String> {
    let mut values = staged.row.captured();
    for (name, value) in found {
        values.insert(name.clone(), value.clone()?);
    }
    let done = staged.with_captured(&values);
    if let Some(name) = done.first_unresolved().map_err(|e| e.public_message())? {
        return Err(missing(declared(done.config().map_err(|e| e.public_message())?), &name));
    }
    Ok(done)
}

/// After a refresh: the token response's values that are present and valid replace the stored ones
/// (a refused one is logged and the stored one kept). When anything changed, the values to store
/// and the destinations the connection's credentials are then entrusted to: the new values come
/// from the refresh endpoint the credentials were already entrusted to, checked as at connect time.
pub fn after_refresh(
    row: &ConnectionRow,
    service: &ServiceRow,
    found: &Found,
) -> Result<Option<(Values, Destinations)>, AppError> {
    let mut values = row.captured();
    for (name, value) in found {
        match value {
            Ok(v) => {
                values.insert(name.clone(), v.clone());
            }
            Err(why) => tracing::warn!(connection = row.link_name, "a refreshed value was not kept: {why}"),
        }
    }
    if values == row.captured() {
        return Ok(None);
    }
    let loaded = Loaded::new(row.clone(), service.clone(), String::new()).with_captured(&values);
    let destinations = loaded.destinations()?;
    Ok(Some((values, destinations)))
}

fn declared(config: &ServiceConfig) -> &[CapturedValue] {
    config.oauth().map_or(&[], |o| o.captured_values.as_slice())
}

/// Why a connect ends when a URL still names `{name}`.
fn missing(declared: &[CapturedValue], name: &str) -> String {
    match declared.iter().find(|c| c.name == name) {
        Some(c) => format!(
            "The provider's {} carried no {}, which this service's URLs need ({{{name}}}); nothing was stored.",
            c.source.label(),
            c.key
        ),
        None => format!("This service's URLs name {{{name}}}, which the provider did not return."),
    }
}
