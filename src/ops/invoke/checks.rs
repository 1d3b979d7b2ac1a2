//! Test: a connection's check, through the service's test request when it has one, otherwise by
//! obtaining a token (OAuth2) or finding the stored credentials; recorded like an invoke.

use std::time::Instant;

use actix_web::web::Data;
use serde::Serialize;

use super::{InvokeRequest, ensure_connected, event_message, permitted, run, token_error};
use crate::activity::Entry;
use crate::error::AppError;
use crate::models::api_token::Scope;
use crate::models::event::NewEvent;
use crate::models::user::User;
use crate::ops::access_tokens::{self, Caller};
use crate::ops::connections;
use crate::state::AppState;

/// What Test found.
#[derive(Debug, Serialize)]
pub struct TestResult {
    pub ok: bool,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub message: String,
    /// The start of the answer's body, secrets masked.
    pub excerpt: Option<String>,
}

/// Tests a connection: the service's test request when it has one, otherwise whether a token (OAuth2)
/// or stored credentials can be had.
pub async fn test(
    state: &Data<AppState>,
    caller: &User,
    scope: &Scope,
    link_name: &str,
) -> Result<TestResult, AppError> {
    let started = Instant::now();
    let loaded = connections::load(state, link_name).await?;
    permitted(scope, &loaded)?;
    ensure_connected(&loaded)?;
    let config = loaded.config()?;
    let Some((method, path)) = loaded.service.test_request.as_deref().and_then(|t| t.split_once(' ')) else {
        let message = match config.oauth() {
            Some(_) => {
                let obtained = access_tokens::access_token(
                    state,
                    loaded.row.id,
                    state.config.refresh_margin_secs,
                    None,
                    Caller::Interactive,
                )
                .await
                .map_err(token_error);
                record_test(state, caller, loaded.row.id, started, obtained.as_ref().map(drop)).await?;
                obtained?;
                "A valid access token was obtained. Define a test request on the service to call its API too."
            }
            None => {
                record_test(state, caller, loaded.row.id, started, Ok(())).await?;
                "The credentials are stored. Define a test request on the service to check them at the \
                 provider."
            }
        };
        return Ok(TestResult {
            ok: true,
            status: None,
            latency_ms: started.elapsed().as_millis() as i64,
            message: message.into(),
            excerpt: None,
        });
    };
    let req = InvokeRequest {
        method: Some(method.to_owned()),
        path: Some(path.to_owned()),
        ..InvokeRequest::default()
    };
    let answer = run(state, caller, &loaded, req, "test").await?;
    let ok = answer.status < 400;
    let excerpt: String =
        if answer.body_base64 { "(binary body)".into() } else { answer.body.chars().take(300).collect() };
    Ok(TestResult {
        ok,
        status: Some(answer.status),
        latency_ms: started.elapsed().as_millis() as i64,
        message: format!("{method} {path} answered HTTP {}.", answer.status),
        excerpt: Some(excerpt),
    })
}

/// Records a Test that made no request (a token or credentials check).
async fn record_test(
    state: &AppState,
    caller: &User,
    id: i64,
    started: Instant,
    outcome: Result<(), &AppError>,
) -> Result<(), AppError> {
    let event = NewEvent {
        kind: "test",
        actor: caller.username.clone(),
        latency_ms: started.elapsed().as_millis() as i64,
        ok: outcome.is_ok(),
        message: outcome.err().map(event_message),
        ..NewEvent::default()
    };
    state.activity.record(Entry { connection_id: id, event, at: state.clock.now(), mark_used: false }).await;
    Ok(())
}
