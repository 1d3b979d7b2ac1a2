//! The credentials a request through a connection carries, for invoke and the proxy alike: the
//! stored ones placed the way the service says, or an OAuth2 access token (refreshed first when it
//! is about to expire), with every form of them to mask in the answer; and one refresh after the
//! upstream refused a token.

use actix_web::web::Data;

use super::token_error;
use crate::domain::service::ServiceConfig;
use crate::error::AppError;
use crate::injection::{self, Injection};
use crate::ops::access_tokens::{self, Caller};
use crate::ops::connections::Loaded;
use crate::state::AppState;

/// What one attempt injects, and what to mask in its answer.
pub struct Attempt {
    pub injected: Vec<Injection>,
    /// Every form of the secrets sent (see `injection::secret_values`).
    pub secrets: Vec<String>,
    /// OAuth2: the version of the token sent, so that a refresh after a refusal replaces it only.
    token_version: Option<i64>,
}

/// The credentials for a first attempt.
pub async fn first(
    state: &Data<AppState>,
    loaded: &Loaded,
    config: &ServiceConfig,
) -> Result<Attempt, AppError> {
    if config.oauth().is_none() {
        let credentials = loaded.row.open_credentials(&state.keyring)?;
        let injected = injection::injections(config, credentials.as_ref(), None);
        let secrets = injection::secret_values(&injected, credentials.as_ref());
        return Ok(Attempt { injected, secrets, token_version: None });
    }
    let margin = state.config.refresh_margin_secs;
    let token = match access_tokens::fresh(state, &loaded.row, margin)? {
        Some(token) => token,
        None => access_tokens::access_token(state, loaded.row.id, margin, None, Caller::Interactive)
            .await
            .map_err(token_error)?,
    };
    let injected = injection::injections(config, None, Some(&token.value));
    let secrets = injection::secret_values(&injected, None);
    Ok(Attempt { injected, secrets, token_version: Some(token.version) })
}

/// The upstream refused `refused`'s token: a new one (refreshed once, unless another request
/// already did), or `None` when there is none to be had or the service is not OAuth2.
pub async fn after_refusal(
    state: &Data<AppState>,
    loaded: &Loaded,
    config: &ServiceConfig,
    refused: &Attempt,
) -> Option<Attempt> {
    let version = refused.token_version?;
    let margin = state.config.refresh_margin_secs;
    let fresh = access_tokens::access_token(state, loaded.row.id, margin, Some(version), Caller::Interactive)
        .await
        .ok()?;
    let injected = injection::injections(config, None, Some(&fresh.value));
    let secrets = injection::secret_values(&injected, None);
    Some(Attempt { injected, secrets, token_version: Some(fresh.version) })
}

/// Whether an answer's status says the service refused the token: a 401, or a status the service
/// lists. Never for a service that is not OAuth2.
pub fn refused_status(config: &ServiceConfig, status: u16) -> bool {
    config.oauth().is_some_and(|o| status == 401 || o.refresh_on_status.contains(&status))
}
