//! What a service's edit may not change while connections use it: their credentials' shape and the
//! variables they hold values for.

use crate::domain::service::{ApiKeyConfig, ServiceConfig};
use crate::domain::validate::push;
use crate::domain::variables::ConnectionVariable;
use crate::error::FieldErrors;

use super::Existing;

/// With connections in place, the variables they hold values for must not change under them.
pub(super) fn variables_in_use(errors: &mut FieldErrors, existing: &Existing, new: &[ConnectionVariable]) {
    let names = |vars: &[ConnectionVariable]| vars.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
    if names(existing.connection_variables) != names(new) {
        push(
            errors,
            "connection_variables",
            format!(
                "The connection variables cannot change: {} connection(s) use this service and hold values \
                 for them; delete them first or create a new service.",
                existing.connection_count
            ),
        );
    }
}

/// With connections in place, the shape of their credentials must not change under them.
pub(super) fn guard_in_use(errors: &mut FieldErrors, existing: &Existing, config: &ServiceConfig) {
    let n = existing.connection_count;
    let why = format!("{n} connection(s) use this service; delete them first or create a new service.");
    if existing.config.auth_type() != config.auth_type() {
        push(errors, "auth_type", format!("The authentication type cannot change: {why}"));
        return;
    }
    if let (Some(old), Some(new)) = (existing.config.api_key(), config.api_key()) {
        let names = |c: &ApiKeyConfig| c.params.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        if names(old) != names(new) {
            push(errors, "api_key.params", format!("The parameter names cannot change: {why}"));
        }
    }
    if let (Some(old), Some(new)) = (existing.config.oauth(), config.oauth())
        && old.grant_type != new.grant_type
    {
        push(errors, "oauth2.grant_type", format!("The grant type cannot change: {why}"));
    }
}
