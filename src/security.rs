//! Response hardening and request-origin checks that apply to every route: security headers (errors
//! included; HSTS over https), `Cache-Control: no-store` for everything but the static files found,
//! and the Origin / Sec-Fetch-Site check on state-changing browser requests.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::error::AppError;
use crate::state::AppState;

/// No inline script or style anywhere, so the policy allows none. `form-action` is 'self', widened
/// only by `csp_with_form_targets` on pages whose forms redirect to an OAuth provider.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Features no page of this app uses, denied to it and to anything it might embed.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), geolocation=(), \
     gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=(), xr-spatial-tracking=()";

/// Over https: browsers that saw the portal once refuse plain http to it for a year.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

fn set(res: &mut ServiceResponse<impl MessageBody>, name: &'static str, value: &'static str) {
    res.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from_static(value));
}

/// Adds the security headers to every response, including error pages.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let is_static = req.path().starts_with("/static/");
    let https =
        req.app_data::<web::Data<AppState>>().is_some_and(|state| crate::auth::session::over_https(state));
    let mut res = next.call(req).await?;
    // A page may widen form-action for its own forms (the OAuth consent redirect); never anything else.
    if !res.headers().contains_key("content-security-policy") {
        set(&mut res, "content-security-policy", CONTENT_SECURITY_POLICY);
    }
    set(&mut res, "x-content-type-options", "nosniff");
    set(&mut res, "referrer-policy", "same-origin");
    set(&mut res, "x-frame-options", "DENY");
    set(&mut res, "cross-origin-opener-policy", "same-origin");
    set(&mut res, "cross-origin-resource-policy", "same-origin");
    set(&mut res, "permissions-policy", PERMISSIONS_POLICY);
    if https {
        set(&mut res, "strict-transport-security", STRICT_TRANSPORT_SECURITY);
    }
    // Only an asset itself may be kept by shared caches; a 404 or an error page under /static/ is not.
    if is_static && res.status().is_success() {
        set(&mut res, "cache-control", "public, max-age=3600");
    } else {
        set(&mut res, "cache-control", "no-store");
        res.headers_mut().append(header::VARY, HeaderValue::from_static("HX-Request"));
    }
    Ok(res)
}

/// Refuses state-changing browser requests sent from another site. The Bearer API is exempt: it
/// ignores cookies, so a cross-site page cannot ride on a session there.
pub async fn check_origin<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let safe = req.method().is_safe();
    if !safe && !req.path().starts_with("/api/") {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let cross_site = matches!(site, Some(s) if s != "same-origin" && s != "none");
        let foreign_origin = match (origin, &state) {
            (Some(o), Some(state)) => o != state.base_url.origin().ascii_serialization(),
            _ => false,
        };
        if cross_site || foreign_origin {
            let (req, _) = req.into_parts();
            return Ok(ServiceResponse::from_err(AppError::Csrf, req).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The policy with `form-action` also allowing these origins: a form POST that redirects to a
/// provider's consent page is blocked by the browser unless form-action lists the provider.
pub fn csp_with_form_targets(origins: &[String]) -> String {
    let extra: Vec<&str> = origins
        .iter()
        .map(String::as_str)
        .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
        .collect();
    if extra.is_empty() {
        return CONTENT_SECURITY_POLICY.to_owned();
    }
    CONTENT_SECURITY_POLICY.replace("form-action 'self'", &format!("form-action 'self' {}", extra.join(" ")))
}
