//! A connection loaded with its service and its owner, and its URLs resolved: the connection's
//! values substituted into its service's (see `domain::variables`).

use crate::domain::destinations::Destinations;
use crate::domain::service::ServiceConfig;
use crate::domain::variables;
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
    /// confined under it.
    pub fn api_base_url(&self) -> Result<Option<&str>, AppError> {
        Ok(self.resolved()?.0.as_deref())
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
    if view.connection_variables.is_empty() {
        return Ok((view.api_base_url, view.config));
    }
    variables::resolve(view.api_base_url.as_deref(), &view.config, &row.variables()).map_err(|name| {
        AppError::Conflict(format!(
            "This connection has no value for the service's variable {{{name}}}: create a new connection \
             to give one."
        ))
    })
}
