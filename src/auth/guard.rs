//! Extractors that guard handlers: `Admin` (a signed-in SDAdmin in the browser), `ApiAdmin` (an
//! SDAdmin's API token) and `MetricsScraper` (the metrics token). Naming one in a handler's
//! arguments is what protects it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::session::{self, SignedIn};
use crate::cache::Cache;
use crate::error::AppError;
use crate::models::api_token::{self, ApiToken};
use crate::models::user::{Role, User};
use crate::random::sha256_hex;
use crate::state::AppState;

/// The live token of this hash and its user: from the cache when its use was recorded lately, else
/// from the database, recording the use at most once a minute.
async fn live_token(state: &AppState, hash: String, now: i64) -> Result<Option<(ApiToken, User)>, AppError> {
    let used_lately = |token: &ApiToken| token.last_used_at.is_some_and(|t| now - t < MARK_USED_EVERY_SECS);
    let cache = state.cache.as_deref();
    if let Some(found) = cache.and_then(|c| c.token(&hash)).filter(|(token, _)| used_lately(token)) {
        return Ok(Some(found));
    }
    let epoch = cache.map(Cache::epoch);
    let lookup = hash.clone();
    let Some((mut token, user)) =
        state.db.read(move |conn| Ok(api_token::find_active_with_user(conn, &lookup)?)).await?
    else {
        return Ok(None);
    };
    if !used_lately(&token) {
        // The rare write goes through `run`: the look-up above is a read-only one.
        let id = token.id;
        state.db.run(move |conn| Ok(api_token::mark_used(conn, id, now)?)).await?;
        token.last_used_at = Some(now);
    }
    if let (Some(cache), Some(epoch)) = (cache, epoch) {
        cache.put_token(hash, (token.clone(), user.clone()), epoch);
    }
    Ok(Some((token, user)))
}

/// The message every non-SDAdmin gets.
pub const SDADMIN_REQUIRED: &str =
    "The SDAdmin role is required to use Connections. Ask an administrator for access.";

/// How often an API token's `last_used_at` is written.
const MARK_USED_EVERY_SECS: i64 = 60;

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// A signed-in user of any role (used by sign-out and the 403 page).
impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { session::load(&req).await })
    }
}

/// A signed-in SDAdmin, from the session cookie.
#[derive(Debug, Clone)]
pub struct Admin(pub SignedIn);

impl Admin {
    pub fn user(&self) -> &User {
        &self.0.user
    }
}

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let signed_in = session::load(&req).await?;
            if signed_in.user.role() != Role::SdAdmin {
                return Err(AppError::Forbidden(SDADMIN_REQUIRED.to_owned()));
            }
            if req.method() == actix_web::http::Method::GET {
                note_attention(&req).await;
            }
            Ok(Admin(signed_in))
        })
    }
}

/// How many connections need attention, for the navigation's badge (`web::Layout`): a page goes
/// on without it when it cannot be counted.
#[derive(Debug, Clone, Copy)]
pub struct AttentionCount(pub i64);

async fn note_attention(req: &HttpRequest) {
    let Ok(state) = session::state(req) else { return };
    match crate::alerts::attention::total(&state).await {
        Ok(n) => {
            req.extensions_mut().insert(AttentionCount(n));
        }
        Err(e) => tracing::debug!(error = %e, "could not count the connections that need attention"),
    }
}

/// An SDAdmin authenticated by `Authorization: Bearer <api token>`. Cookies are ignored on the API,
/// which is why it needs no CSRF token.
#[derive(Debug, Clone)]
pub struct ApiAdmin(pub User);

impl FromRequest for ApiAdmin {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let header = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(AppError::Unauthenticated)?;
            let hash = sha256_hex(token);
            let state = session::state(&req)?;
            let now = state.clock.now();
            let found = live_token(&state, hash, now).await?;
            let Some((_, user)) = found.filter(|(_, user)| !user.disabled) else {
                return Err(AppError::Unauthenticated);
            };
            if user.role() != Role::SdAdmin {
                return Err(AppError::Forbidden(SDADMIN_REQUIRED.to_owned()));
            }
            Ok(ApiAdmin(user))
        })
    }
}

/// A scraper that sent the metrics token (`CONNECTIONS_METRICS_TOKEN`) as `Authorization: Bearer`.
/// Without a token configured the route does not exist: 404. The tokens are compared as SHA-256
/// digests in constant time, so the comparison reveals neither bytes nor length.
#[derive(Debug, Clone, Copy)]
pub struct MetricsScraper;

impl FromRequest for MetricsScraper {
    type Error = AppError;
    type Future = std::future::Ready<Result<MetricsScraper, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(scraper(req))
    }
}

fn scraper(req: &HttpRequest) -> Result<MetricsScraper, AppError> {
    let state = session::state(req)?;
    let expected = state.config.metrics_token.as_ref().ok_or(AppError::NotFound)?;
    let header = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let sent = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(AppError::Unauthenticated)?;
    if !crate::random::same_token(&sha256_hex(sent), &sha256_hex(expected.expose())) {
        return Err(AppError::Unauthenticated);
    }
    Ok(MetricsScraper)
}
