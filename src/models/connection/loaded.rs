//! A connection loaded with its service and its owner, and its URLs resolved: the connection's
//! values substituted into its service's (see `domain::variables`).

use crate::domain::destinations::Destinations;
use crate::domain::service::ServiceConfig;
use crate::domain::variables::{self, Values};
use crate::error::AppError;
use crate::models::service::ServiceRow;

use super::{ConnectionMeta, ConnectionRow};

/// A connection with its service and its owner's name.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub row: ConnectionRow,
    pub service: ServiceRow,
    pub owner: String,
    /// The service's API base URL and settings for this connection, parsed and resolved on first
    /// use: a cached connection is invoked many times, and each invoke would otherwise parse them
    /// again.
    resolved: std::sync::OnceLock<(Option<String>, ServiceConfig)>,
}

impl Loaded {
    pub fn new(row: ConnectionRow, service: ServiceRow, owner: String) -> Loaded {
        Loaded { row, service, owner, resolved: std::sync::OnceLock::new() }
    }

    /// Where the service sends this connection's credentials now.
    pub fn destinations(&self) -> Result<Destinations, AppError> {
        let (api, config) = self.resolved()?;
        Ok(Destinations::of(api.as_deref(), config))
    }

    /// The service's settings, with this connection's values in every URL: every use site (the
    /// authorization URL, token requests, refresh, revoke) reads its URLs from here.
    pub fn config(&self) -> Result<&ServiceConfig, AppError> {
        Ok(&self.resolved()?.1)
    }

    /// The service's API base URL with this connection's values in it: invokes and tests are
    /// confined under it. A conflict when it names a value the provider has not returned to this
    /// connection (it was connected before the service named it).
    pub fn api_base_url(&self) -> Result<Option<&str>, AppError> {
        let api = self.resolved()?.0.as_deref();
        if let Some(name) = api.and_then(unresolved) {
            return Err(AppError::Conflict(format!(
                "The service's API base URL names {{{name}}}, a value the provider returns when a connection \
                 is connected, and this connection has none the service allows: reconnect it."
            )));
        }
        Ok(api)
    }

    /// The first captured value one of its URLs names that the provider has not returned to it.
    pub fn first_unresolved(&self) -> Result<Option<String>, AppError> {
        let (api, config) = self.resolved()?;
        let o = config.oauth();
        let urls =
            [api.as_deref(), o.map(|o| o.token_url.as_str()), o.and_then(|o| o.refresh_url.as_deref())];
        let urls = urls.into_iter().chain([o.and_then(|o| o.revoke_url.as_deref())]).flatten();
        Ok(urls.filter_map(unresolved).map(str::to_owned).next())
    }

    /// The same connection with `captured` as the values the provider returned: what a connect
    /// resolves its URLs and destinations with before it stores them.
    pub fn with_captured(&self, captured: &Values) -> Loaded {
        let mut row = self.row.clone();
        row.meta.captured = variables::to_json(captured);
        Loaded::new(row, self.service.clone(), self.owner.clone())
    }

    fn resolved(&self) -> Result<&(Option<String>, ServiceConfig), AppError> {
        if let Some(resolved) = self.resolved.get() {
            return Ok(resolved);
        }
        let resolved = resolve(&self.service, &self.row)?;
        Ok(self.resolved.get_or_init(|| resolved))
    }
}

/// The service's API base URL and settings with `row`'s values in every URL (see
/// `domain::variables`): the one place a connection's URLs are resolved.
pub fn resolve(
    service: &ServiceRow,
    row: &ConnectionMeta,
) -> Result<(Option<String>, ServiceConfig), AppError> {
    let view = service.view()?;
    let captures = view.config.oauth().map_or(&[][..], |o| o.captured_values.as_slice());
    if view.connection_variables.is_empty() && captures.is_empty() {
        return Ok((view.api_base_url, view.config));
    }
    // A captured value the provider has not returned yet stays `{name}`: such a URL is never sent to.
    let pending: Vec<&str> = captures.iter().map(|c| c.name.as_str()).collect();
    // A kept value the service's definition no longer allows counts as none.
    let mut values = row.captured();
    values.retain(|name, value| captures.iter().any(|c| c.name == *name && c.still_allows(value)));
    values.extend(row.variables());
    let api = view.api_base_url.as_deref();
    variables::resolve_keeping(api, &view.config, &values, &pending).map_err(|name| {
        AppError::Conflict(format!(
            "This connection has no value for the service's variable {{{name}}}: create a new connection \
             to give one."
        ))
    })
}

/// The first `{name}` a resolved URL still holds: a captured value its connection has none of.
pub fn unresolved(url: &str) -> Option<&str> {
    let open = url.find('{')?;
    let close = url[open..].find('}')?;
    Some(&url[open + 1..open + close])
}
