//! Cookie sessions: start one at sign-in (always a new id), load it on each request with its idle and
//! absolute timeouts, end it at sign-out. The cookie holds a random id; the database holds its hash.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpMessage, HttpRequest, web};

use crate::error::AppError;
use crate::models::session::{self as sessions, Session};
use crate::models::user::User;
use crate::random::{random_urlsafe, sha256_hex};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "connections_session";
/// Its name over https: browsers take a `__Host-` cookie only from a secure origin, with `Path=/` and
/// no `Domain`, so neither a plain-http page nor a sibling subdomain can plant or overwrite it.
const HOST_SESSION_COOKIE: &str = "__Host-connections_session";

/// Whether the portal is reached over https: its cookies are then `Secure` and `__Host-` prefixed.
pub fn over_https(state: &AppState) -> bool {
    state.base_url.scheme() == "https"
}

fn cookie_name(state: &AppState) -> &'static str {
    if over_https(state) { HOST_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// How often `last_seen_at` is written: not on every request, to keep page loads read-only.
const TOUCH_EVERY_SECS: i64 = 60;

/// A signed-in user with their live session, cached in the request's extensions once loaded.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub session: Session,
}

impl SignedIn {
    /// The session's CSRF token, for forms and the htmx header.
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

/// Loads the session named by the cookie, or `Unauthenticated`.
pub async fn load(req: &HttpRequest) -> Result<SignedIn, AppError> {
    if let Some(found) = req.extensions().get::<SignedIn>() {
        return Ok(found.clone());
    }
    let state = state(req)?;
    let cookie = req.cookie(cookie_name(&state)).ok_or(AppError::Unauthenticated)?;
    let id_hash = sha256_hex(cookie.value());
    let now = state.clock.now();
    let (idle, absolute) = (state.config.session_idle_secs, state.config.session_absolute_secs);
    let usable = |session: &Session, user: &User| {
        now - session.last_seen_at <= idle && now - session.created_at <= absolute && !user.disabled
    };
    // A cached session needs no write: it is recent (a touch is due after a minute) and valid.
    let cached = state.cache.as_ref().and_then(|cache| cache.session(&id_hash));
    if let Some((session, user)) =
        cached.filter(|(s, u)| now - s.last_seen_at < TOUCH_EVERY_SECS && usable(s, u))
    {
        let found = SignedIn { user, session };
        req.extensions_mut().insert(found.clone());
        return Ok(found);
    }
    let epoch = state.cache.as_ref().map(|cache| cache.epoch());
    let lookup = id_hash.clone();
    let found = state.db.read(move |conn| Ok(sessions::find_with_user(conn, &lookup)?)).await?;
    let Some((mut session, user)) = found else {
        return Err(AppError::Unauthenticated);
    };
    // The rare writes go through `run`: the look-up above is a read-only one.
    if !usable(&session, &user) {
        let gone = id_hash.clone();
        state.db.run(move |conn| Ok(sessions::delete(conn, &gone)?)).await?;
        return Err(AppError::Unauthenticated);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_SECS {
        let touched = id_hash.clone();
        state.db.run(move |conn| Ok(sessions::touch(conn, &touched, now)?)).await?;
        session.last_seen_at = now;
    }
    if let (Some(cache), Some(epoch)) = (&state.cache, epoch) {
        cache.put_session(id_hash, (session.clone(), user.clone()), epoch);
    }
    let found = SignedIn { user, session };
    req.extensions_mut().insert(found.clone());
    Ok(found)
}

/// The longest `User-Agent` a session keeps: enough to tell browsers apart, and no more.
const MAX_USER_AGENT: usize = 512;

/// The request's `User-Agent` as a session records it: control characters removed, cut short.
fn user_agent(req: &HttpRequest) -> Option<String> {
    let raw = req.headers().get(actix_web::http::header::USER_AGENT)?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    let kept: String = text.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT).collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// Creates a new session for `user_id` and returns its cookie, recording the browser and address it
/// comes from (My account lists them). Called only after a successful sign-in, so a session id
/// planted before sign-in is never promoted.
pub async fn start(state: &AppState, req: &HttpRequest, user_id: i64) -> Result<Cookie<'static>, AppError> {
    let id = random_urlsafe(32)?;
    let csrf = random_urlsafe(32)?;
    let id_hash = sha256_hex(&id);
    let now = state.clock.now();
    let (agent, address) = (user_agent(req), req.peer_addr().map(|a| a.ip().to_string()));
    state
        .db
        .run(move |conn| {
            let new = sessions::NewSession {
                id_hash: &id_hash,
                user_id,
                csrf_token: &csrf,
                user_agent: agent.as_deref(),
                address: address.as_deref(),
            };
            Ok(sessions::insert(conn, &new, now)?)
        })
        .await?;
    Ok(session_cookie(state, id))
}

/// The hash of the session the request's cookie names, if it carries one.
pub fn current_hash(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(cookie_name(state)).map(|cookie| sha256_hex(cookie.value()))
}

/// Deletes the session named by the request's cookie, if any.
pub async fn end(state: &AppState, req: &HttpRequest) -> Result<(), AppError> {
    if let Some(cookie) = req.cookie(cookie_name(state)) {
        let id_hash = sha256_hex(cookie.value());
        state.db.run(move |conn| Ok(sessions::delete(conn, &id_hash)?)).await?;
    }
    Ok(())
}

fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    // Lax, not Strict: the provider's redirect back to the OAuth callback must carry the session.
    Cookie::build(cookie_name(state), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(over_https(state))
        .finish()
}

/// A cookie that tells the browser to forget the session.
pub fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, String::new());
    cookie.set_max_age(CookieDuration::ZERO);
    cookie
}

pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("app state missing".into()))
}
