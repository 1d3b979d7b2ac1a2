//! Extractors that guard handlers: `Admin` (a signed-in SDAdmin in the browser), `ApiAdmin` (an
//! SDAdmin's unrestricted API token), `ApiInvoker` (a token that may invoke the route's connection)
//! and `MetricsScraper` (the metrics token). Naming one in a handler's arguments is what protects it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::actor::{Actor, client_address};
use crate::auth::session::{self, SignedIn};
use crate::cache::Cache;
use crate::error::AppError;
use crate::models::api_token::{self, ApiToken, LiveToken, Scope};
use crate::models::user::{Role, User};
use crate::random::sha256_hex;
use crate::state::AppState;

/// The live token of this hash: from the cache when its use was recorded lately, else from the
/// database, recording the use (time and address) at most once a minute.
async fn live_token(
    state: &AppState,
    hash: String,
    now: i64,
    address: Option<String>,
) -> Result<Option<LiveToken>, AppError> {
    let used_lately = |token: &ApiToken| token.last_used_at.is_some_and(|t| now - t < MARK_USED_EVERY_SECS);
    let cache = state.cache.as_deref();
    if let Some(found) = cache.and_then(|c| c.token(&hash)).filter(|found| used_lately(&found.token)) {
        return Ok(Some(found));
    }
    let epoch = cache.map(Cache::epoch);
    let lookup = hash.clone();
    let Some(mut found) =
        state.db.read(move |conn| Ok(api_token::find_active_with_user(conn, &lookup)?)).await?
    else {
        return Ok(None);
    };
    if !used_lately(&found.token) {
        // The rare write goes through `run`: the look-up above is a read-only one.
        let (id, recorded) = (found.token.id, address.clone());
        state.db.run(move |conn| Ok(api_token::mark_used(conn, id, now, recorded.as_deref())?)).await?;
        found.token.last_used_at = Some(now);
        found.token.last_used_address = address;
    }
    if let (Some(cache), Some(epoch)) = (cache, epoch) {
        cache.put_token(hash, found.clone(), epoch);
    }
    Ok(Some(found))
}

/// The message every non-SDAdmin gets.
pub const SDADMIN_REQUIRED: &str =
    "The SDAdmin role is required to use Connections. Ask an administrator for access.";

/// How often an API token's `last_used_at` is written.
const MARK_USED_EVERY_SECS: i64 = 60;

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// Refuses a user who must choose a new password first (`AppError::PasswordChangeRequired`, which
/// sends a browser to the change-password page). Every page guard calls it; only the
/// change-password page, the account's own forms and sign-out do without.
pub fn password_chosen(signed_in: &SignedIn) -> Result<(), AppError> {
    match signed_in.user.must_change_password {
        true => Err(AppError::PasswordChangeRequired),
        false => Ok(()),
    }
}

/// A signed-in user of any role who has chosen their own password (My account).
impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let signed_in = session::load(&req).await?;
            password_chosen(&signed_in)?;
            Ok(signed_in)
        })
    }
}

/// A signed-in user of any role, even one who must still choose a new password: the
/// change-password page.
#[derive(Debug, Clone)]
pub struct AnySignedIn(pub SignedIn);

impl FromRequest for AnySignedIn {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(AnySignedIn(session::load(&req).await?)) })
    }
}

/// A signed-in SDAdmin, from the session cookie, and the client address of the request.
#[derive(Debug, Clone)]
pub struct Admin(pub SignedIn, Option<String>);

impl Admin {
    pub fn user(&self) -> &User {
        &self.0.user
    }

    /// The user with the request's address, for an audited change.
    pub fn actor(&self) -> Actor {
        Actor { user: self.0.user.clone(), source: self.1.clone() }
    }
}

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let signed_in = session::load(&req).await?;
            password_chosen(&signed_in)?;
            if signed_in.user.role() != Role::SdAdmin {
                return Err(AppError::Forbidden(SDADMIN_REQUIRED.to_owned()));
            }
            if req.method() == actix_web::http::Method::GET {
                note_attention(&req).await;
            }
            Ok(Admin(signed_in, client_address(&req)))
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

/// The live, unexpired token of an enabled SDAdmin in `Authorization: Bearer <api token>`. Cookies
/// are ignored on the API, which is why it needs no CSRF token. Expiry is checked here against the
/// clock on every use, cached or not.
async fn bearer(req: &HttpRequest) -> Result<LiveToken, AppError> {
    let header = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthenticated)?;
    let hash = sha256_hex(token);
    let state = session::state(req)?;
    let now = state.clock.now();
    let address = client_address(req);
    let found = live_token(&state, hash, now, address).await?;
    let Some(found) = found.filter(|found| !found.user.disabled) else {
        return Err(AppError::Unauthenticated);
    };
    if found.token.expired(now) {
        return Err(AppError::TokenExpired);
    }
    if found.user.role() != Role::SdAdmin {
        return Err(AppError::Forbidden(SDADMIN_REQUIRED.to_owned()));
    }
    Ok(found)
}

/// An SDAdmin authenticated by an unrestricted API token, with the request's client address (it
/// reads as the `User`). A restricted token gets 403 with the connections it may invoke.
#[derive(Debug, Clone)]
pub struct ApiAdmin(pub Actor);

impl FromRequest for ApiAdmin {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let found = bearer(&req).await?;
            if found.scope != Scope::Everything {
                return Err(AppError::Forbidden(found.scope.refusal()));
            }
            Ok(ApiAdmin(Actor::new(found.user, &req)))
        })
    }
}

/// An SDAdmin's API token that may invoke the connection named by the route's `{link}`: an
/// unrestricted token, or one restricted to that connection. The handler checks `scope` again
/// against the loaded connection's id (`Scope::permits_connection`).
#[derive(Debug, Clone)]
pub struct ApiInvoker {
    pub user: User,
    pub scope: Scope,
}

impl FromRequest for ApiInvoker {
    type Error = AppError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let found = bearer(&req).await?;
            let link = req.match_info().get("link").unwrap_or_default();
            if !found.scope.permits_link(link) {
                return Err(AppError::Forbidden(found.scope.refusal()));
            }
            Ok(ApiInvoker { user: found.user, scope: found.scope })
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
