//! Where errors become responses, for every route: the HTML error page in the layout, a redirect to
//! sign-in, or a JSON body under `/api`. No handler formats an error itself.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::session::SignedIn;
use crate::error::AppError;
use crate::web::Layout;

#[derive(Template)]
#[template(path = "errors/error.html", blocks = ["alert"])]
struct ErrorPage {
    layout: Layout,
    status: u16,
    title: &'static str,
    message: String,
}

/// The default service: nothing matched.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// Replaces the body of every error response with the page or JSON for its route.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Inner layers turn every error into a response carrying it, so an `Err` here is not ours to render.
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(error) = res.response().error() else {
        return Ok(res);
    };
    let http_req = res.request().clone();
    let status = res.status();
    let app_error = error.as_error::<AppError>();
    let message = match app_error {
        Some(e) => e.public_message(),
        None if status == StatusCode::PAYLOAD_TOO_LARGE => "The request is too large.".to_owned(),
        None if status.is_server_error() => "Something went wrong on our side.".to_owned(),
        None => format!("The request could not be handled: {error}."),
    };
    // A script or a scraper reads JSON, and is never sent to sign in.
    let machine = http_req.path().starts_with("/api/") || http_req.path() == "/metrics";
    let mut new = if machine {
        json_error(status, app_error, &message)
    } else if status == StatusCode::UNAUTHORIZED {
        to_sign_in(&http_req)
    } else if matches!(app_error, Some(AppError::PasswordChangeRequired)) {
        to_change_password(&http_req)
    } else {
        html_error(&http_req, status, with_fields(message, app_error)).await
    };
    // A 405 keeps the methods the path takes, a 503 for the database when to try again.
    for kept in [actix_web::http::header::ALLOW, actix_web::http::header::RETRY_AFTER] {
        if let Some(value) = res.headers().get(&kept) {
            new.headers_mut().insert(kept, value.clone());
        }
    }
    Ok(res.into_response(new))
}

/// A page has no form fields to show a 422's messages beside (a query or a form refused at the
/// edge, see `input`): the message lists them.
fn with_fields(message: String, error: Option<&AppError>) -> String {
    match error {
        Some(AppError::Invalid(fields)) => {
            let details: Vec<String> =
                fields.iter().map(|(field, messages)| format!("{field}: {}", messages.join(" "))).collect();
            format!("{message} ({})", details.join("; "))
        }
        _ => message,
    }
}

fn json_error(status: StatusCode, error: Option<&AppError>, message: &str) -> HttpResponse {
    let code = error.map_or("error", AppError::code);
    let body = match error {
        Some(AppError::Invalid(fields)) => {
            serde_json::json!({ "error": { "code": code, "message": message }, "errors": fields })
        }
        // A connection that cannot be used says which status it is in, for scripts to branch on.
        Some(AppError::NotConnected { status: connection_status, .. }) => {
            serde_json::json!({ "error": { "code": code, "message": message, "status": connection_status } })
        }
        Some(AppError::ConfirmationRequired { affected, .. }) => {
            serde_json::json!({ "error": { "code": code, "message": message, "connections": affected } })
        }
        _ => serde_json::json!({ "error": { "code": code, "message": message } }),
    };
    let mut res = HttpResponse::build(status).json(body);
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(actix_web::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

/// Browsers without a session go to the sign-in page and come back afterwards; htmx follows
/// `HX-Redirect` instead of swapping the sign-in page into a fragment.
fn to_sign_in(req: &HttpRequest) -> HttpResponse {
    let next = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let location = format!("/login?next={encoded}");
    if req.headers().contains_key("hx-request") {
        return HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish();
    }
    HttpResponse::SeeOther().insert_header((LOCATION, location)).finish()
}

/// A user who must choose a new password goes to the change-password page, and comes back to the
/// page they asked for (a GET) once it is done.
fn to_change_password(req: &HttpRequest) -> HttpResponse {
    let next = match *req.method() {
        actix_web::http::Method::GET => req.uri().path_and_query().map_or("/", |p| p.as_str()),
        _ => "/",
    };
    let location = crate::web::account::change_password_url(next);
    if req.headers().contains_key("hx-request") {
        return HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish();
    }
    HttpResponse::SeeOther().insert_header((LOCATION, location)).finish()
}

async fn html_error(req: &HttpRequest, status: StatusCode, message: String) -> HttpResponse {
    // Show the signed-in layout when there is a session (a 404 runs no guard that would load it).
    let cached = req.extensions().get::<SignedIn>().cloned();
    let signed_in = match cached {
        Some(found) => Some(found),
        None => crate::auth::session::load(req).await.ok(),
    };
    let page = ErrorPage {
        layout: Layout::new(req, signed_in.as_ref(), ""),
        status: status.as_u16(),
        title: match status {
            StatusCode::FORBIDDEN => "Access denied",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable right now",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        },
        message,
    };
    let body = page.render().unwrap_or_else(|_| "An error occurred.".to_owned());
    let mut res = HttpResponse::build(status);
    res.insert_header((CONTENT_TYPE, "text/html; charset=utf-8"));
    if req.headers().contains_key("hx-request") {
        // htmx: show the message in the page's flash area instead of replacing the target.
        res.insert_header(("HX-Retarget", "#flash")).insert_header(("HX-Reswap", "innerHTML"));
        return res.body(page.as_alert().render().unwrap_or_default());
    }
    res.body(body)
}
