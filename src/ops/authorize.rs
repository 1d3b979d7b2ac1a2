//! Connecting OAuth2 connections: the consent redirect (state + PKCE, stored server-side), the
//! callback that completes it exactly once, and the Client Credentials grant.

use crate::alerts::events::{self as alerts, Event};
use crate::auth::actor::Actor;
use crate::domain::connection as rules;
use crate::domain::service::{GrantType, callback_url};
use crate::error::AppError;
use crate::models::connection::{self as connections, NewTokens};
use crate::models::oauth_flow::{self, NewFlow};
use crate::models::setting;
use crate::oauth;
use crate::ops::captured;
use crate::ops::connections::{ConnectionView, Loaded, ensure_owner, load, record};
use crate::ops::services::alias_url;
use crate::random::{random_urlsafe, sha256_hex};
use crate::state::AppState;

/// Starts an authorization-code flow and returns the provider's consent URL.
pub async fn start_authorization(
    state: &AppState,
    actor: &Actor,
    link_name: &str,
    session_hash: Option<String>,
) -> Result<url::Url, AppError> {
    let loaded = load(state, link_name).await?;
    ensure_owner(&loaded, actor, "connect")?;
    let config = loaded.config()?;
    let oauth_cfg = match config.oauth() {
        Some(o) if o.grant_type == GrantType::AuthorizationCode => o.clone(),
        Some(_) => {
            return Err(AppError::Conflict(
                "This service uses the Client Credentials grant: connect it without a consent.".into(),
            ));
        }
        None => {
            return Err(AppError::Conflict("Only OAuth2 connections are authorized at a provider.".into()));
        }
    };
    token_calls_allowed(state)?;
    let state_token = random_urlsafe(32)?;
    let (verifier, challenge) = oauth::pkce_pair()?;
    let scopes = loaded.row.scopes_requested();
    let redirect_uri = callback_url(&alias_url(state).await?);
    // Without PKCE the verifier is still kept with the flow, and never sent.
    let challenge = oauth_cfg.pkce.then_some(challenge.as_str());
    let url = oauth::authorize_url(&oauth_cfg, &redirect_uri, &scopes, &state_token, challenge)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let (keyring, state_hash, connection_id, user_id, now) =
        (state.keyring.clone(), sha256_hex(&state_token), loaded.row.id, actor.id, state.clock.now());
    state
        .db
        .run(move |c| {
            let flow = NewFlow {
                state_hash: &state_hash,
                connection_id,
                user_id,
                session_hash: session_hash.as_deref(),
                verifier: &verifier,
                scopes: &scopes,
            };
            oauth_flow::insert(c, &keyring, &flow, now)
        })
        .await?;
    record(
        state,
        actor,
        "connection.authorize",
        link_name,
        serde_json::json!({ "scopes": loaded.row.scopes_requested() }),
    )
    .await?;
    Ok(url)
}

/// An instance started with `--no-refresh` connects nothing through a provider: say so before the
/// consent, not after it.
fn token_calls_allowed(state: &AppState) -> Result<(), AppError> {
    oauth::token_calls_allowed(&state.outbound).map_err(|off| AppError::Unavailable(off.to_string()))
}

/// Stores a token response: tokens sealed, expiry from `expires_in`, the granted scope.
async fn store_token_set(
    state: &AppState,
    loaded: &Loaded,
    tokens: oauth::TokenSet,
    requested: &[String],
) -> Result<(), AppError> {
    let config = loaded.config()?;
    let delimiter = config.oauth().map_or(" ", |o| o.scope_delimiter.as_str()).to_owned();
    let granted = tokens
        .scope
        .as_deref()
        .map(|s| rules::parse_granted(s, &delimiter))
        .unwrap_or_else(|| requested.to_vec());
    let (keyring, id, now) = (state.keyring.clone(), loaded.row.id, state.clock.now());
    let expires_at = tokens.expires_in.map(|s| now + s.max(0));
    let refresh_expires_at = tokens.refresh_token_expires_in.map(|s| now + s.max(0));
    let entrusted = loaded.destinations()?;
    let captured = loaded.row.captured();
    let recovered = alerts::was_broken(&loaded.row);
    state
        .db
        .run(move |c| {
            let new = NewTokens {
                access_token: &tokens.access_token,
                refresh_token: tokens.refresh_token.as_ref(),
                expires_at,
                refresh_expires_at,
                granted: &granted,
                entrusted: &entrusted,
                captured: &captured,
            };
            crate::db::write_tx(c, |c| {
                connections::store_tokens(c, &keyring, id, &new, now)?;
                if recovered {
                    alerts::connection_event(c, Event::Recovered, id, now)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// A connect's token request, counted with the service's others (`refresher::ProviderLimits`), and
/// a throttle it meets pauses the service's refreshes. It is sent during a pause all the same: a
/// person is waiting, and an authorization code expires within minutes.
async fn bounded(
    state: &AppState,
    service_id: i64,
    request: impl Future<Output = Result<oauth::TokenSet, oauth::TokenError>>,
) -> Result<oauth::TokenSet, oauth::TokenError> {
    let limits = &state.refresher.limits;
    let answer = {
        let _turn = limits.permit(service_id).await;
        request.await
    };
    match &answer {
        Err(oauth::TokenError::RateLimited { retry_after, .. }) => {
            limits.throttled(service_id, *retry_after, state.clock.now_millis());
        }
        _ => limits.answered(service_id, state.clock.now_millis()),
    }
    answer
}

/// Connects a Client Credentials connection: the token request is made at once.
pub async fn connect_client_credentials(
    state: &AppState,
    actor: &Actor,
    link_name: &str,
) -> Result<ConnectionView, AppError> {
    let loaded = load(state, link_name).await?;
    ensure_owner(&loaded, actor, "connect")?;
    let config = loaded.config()?;
    let Some(o) = config.oauth().filter(|o| o.grant_type == GrantType::ClientCredentials) else {
        return Err(AppError::Conflict("This connection is not a Client Credentials connection.".into()));
    };
    token_calls_allowed(state)?;
    let secret = loaded.service.client_secret_for(&state.keyring, &o.token_url)?;
    let scopes = loaded.row.scopes_requested();
    let mut form = vec![("grant_type", "client_credentials".to_owned())];
    if !scopes.is_empty() {
        form.push(("scope", scopes.join(&o.scope_delimiter)));
    }
    let answer = bounded(
        state,
        loaded.service.id,
        oauth::token_request(&state.outbound, o, &o.token_url, secret.as_ref(), form),
    )
    .await;
    let done = answer.map_err(|e| format!("The token request failed: {e}")).and_then(|tokens| {
        Ok((captured::after_tokens(&loaded.with_captured(&Default::default()), &tokens.captured)?, tokens))
    });
    match done {
        Ok((done, tokens)) => store_token_set(state, &done, tokens, &scopes).await?,
        Err(message) => {
            let (id, now, shown) = (loaded.row.id, state.clock.now(), message.clone());
            state.db.run(move |c| Ok(connections::set_message(c, id, &shown, now)?)).await?;
            return Err(AppError::Conflict(message));
        }
    }
    record(
        state,
        actor,
        "connection.connect",
        link_name,
        serde_json::json!({ "method": "client_credentials" }),
    )
    .await?;
    Ok(load(state, link_name).await?.view())
}

/// The query of a request to the callback URL.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Every parameter as sent, in order: where the service's callback values are read.
    #[serde(skip)]
    pub query: Vec<(String, String)>,
}

/// How a callback ended, for the page to say.
pub enum CallbackOutcome {
    Connected {
        link_name: String,
        name: String,
    },
    /// The provider refused or the exchange failed: the status is unchanged.
    Failed {
        link_name: String,
        message: String,
    },
}

/// Completes an authorization-code flow: the state must be known, unexpired, unused and the signed-in
/// user's own; `iss` must match the service's issuer before any token request; the code is
/// exchanged exactly once.
pub async fn finish_authorization(
    state: &AppState,
    user: &Actor,
    session_hash: &str,
    params: CallbackParams,
) -> Result<CallbackOutcome, AppError> {
    let unknown = || {
        AppError::BadRequest(
            "This authorization is unknown or was already completed. Start again from the connection's page."
                .into(),
        )
    };
    let state_token =
        params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 200).ok_or_else(unknown)?;
    let state_hash = sha256_hex(state_token);
    let lookup = state_hash.clone();
    let flow = state.db.run(move |c| Ok(oauth_flow::find(c, &lookup)?)).await?.ok_or_else(unknown)?;
    if flow.user_id != user.id || flow.session_hash.as_deref().is_some_and(|h| h != session_hash) {
        return Err(AppError::Forbidden(
            "This authorization was started by another user or in another session. Start again from the \
             connection's page."
                .into(),
        ));
    }
    let now = state.clock.now();
    if flow.used_at.is_some() {
        return Err(unknown());
    }
    if flow.expires_at <= now {
        return Err(AppError::BadRequest(
            "This authorization expired (it must be completed within 10 minutes). Start again from the \
             connection's page."
                .into(),
        ));
    }
    // One visit to the database: claim the flow, and read what the exchange needs.
    let (claim_hash, id) = (state_hash.clone(), flow.connection_id);
    let claimed = state
        .db
        .run(move |c| {
            if !oauth_flow::claim(c, &claim_hash, now)? {
                return Ok(None);
            }
            let loaded = connections::find_loaded(c, vec![id])?.pop().ok_or(AppError::NotFound)?;
            Ok(Some((loaded, setting::get(c, setting::ALIAS_URL)?)))
        })
        .await?;
    let Some((loaded, alias)) = claimed else { return Err(unknown()) };
    let redirect_uri =
        callback_url(&alias.unwrap_or_else(|| state.base_url.as_str().trim_end_matches('/').to_owned()));
    let link_name = loaded.row.link_name.clone();
    let fail = |message: String| CallbackOutcome::Failed { link_name: link_name.clone(), message };
    let config = loaded.config()?;
    let Some(o) = config.oauth() else {
        return Ok(fail("This connection's service is no longer OAuth2.".into()));
    };
    // RFC 9207 §2.4: error responses carry `iss` too; checking it first keeps another server's text off
    // the page.
    if let Some(issuer) = &o.issuer
        && params.iss.as_deref() != Some(issuer.as_str())
    {
        let message =
            "The authorization response came from an unexpected issuer; no token was requested. Try again."
                .to_owned();
        save_message(state, &loaded, &message).await?;
        return Ok(fail(message));
    }
    if let Some(error) = &params.error {
        let description = params
            .error_description
            .as_deref()
            .map(|d| format!(": {}", d.chars().take(300).collect::<String>()))
            .unwrap_or_default();
        let message = format!(
            "The provider did not grant access ({}{description}).",
            error.chars().take(100).collect::<String>()
        );
        save_message(state, &loaded, &message).await?;
        return Ok(fail(message));
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Ok(fail("The provider sent no authorization code.".into()));
    };
    // The callback's values first: a Zoho data centre chooses the token URL the code goes to.
    let staged = match captured::after_callback(&loaded, &params.query) {
        Ok(staged) => staged,
        Err(message) => {
            save_message(state, &loaded, &message).await?;
            return Ok(fail(message));
        }
    };
    let staged_config = staged.config()?;
    let Some(o) = staged_config.oauth() else { return Ok(fail("This service is no longer OAuth2.".into())) };
    let verifier = flow.verifier(&state.keyring)?;
    let secret = match loaded.service.client_secret_for(&state.keyring, &o.token_url) {
        Ok(secret) => secret,
        Err(AppError::Conflict(message)) => {
            save_message(state, &loaded, &message).await?;
            return Ok(fail(message));
        }
        Err(e) => return Err(e),
    };
    let mut form =
        vec![("grant_type", "authorization_code".to_owned()), ("code", code), ("redirect_uri", redirect_uri)];
    if o.pkce {
        form.push(("code_verifier", verifier.expose().to_owned()));
    }
    let answer = bounded(
        state,
        loaded.service.id,
        oauth::token_request(&state.outbound, o, &o.token_url, secret.as_ref(), form),
    )
    .await;
    let answer = answer.map(|tokens| (captured::after_tokens(&staged, &tokens.captured), tokens));
    match answer {
        Ok((Err(message), _)) => {
            save_message(state, &loaded, &message).await?;
            Ok(fail(message))
        }
        Ok((Ok(done), tokens)) => {
            store_token_set(state, &done, tokens, &flow.scopes()).await?;
            record(
                state,
                user,
                "connection.connect",
                &loaded.row.link_name,
                serde_json::json!({ "method": "authorization_code" }),
            )
            .await?;
            Ok(CallbackOutcome::Connected {
                link_name: loaded.row.link_name.clone(),
                name: loaded.row.name.clone(),
            })
        }
        Err(e) => {
            let message = format!("The code exchange failed: {e}");
            save_message(state, &loaded, &message).await?;
            Ok(fail(message))
        }
    }
}

async fn save_message(state: &AppState, loaded: &Loaded, message: &str) -> Result<(), AppError> {
    let (id, now, message) = (loaded.row.id, state.clock.now(), message.to_owned());
    state.db.run(move |c| Ok(connections::set_message(c, id, &message, now)?)).await
}
