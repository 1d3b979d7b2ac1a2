//! The HTML app: thin handlers, one file per area, rendering askama templates through `render`.

pub mod assets;
pub mod bulk;
pub mod connection_actions;
pub mod connection_view;
pub mod connections;
pub mod console;
pub mod encryption;
pub mod errors;
pub mod form_errors;
pub mod list_params;
pub mod login;
pub mod notifications;
pub mod service_bulk;
pub mod service_form;
pub mod service_import;
pub mod services;
pub mod settings;
pub mod templates;
pub mod tokens;
pub mod transfer;
pub mod users;

use std::borrow::Cow;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::guard::AttentionCount;
use crate::auth::session::SignedIn;
use crate::error::AppError;

const FLASH_COOKIE: &str = "connections_flash";

/// The signed-in user as the header shows them.
pub struct UserBadge {
    pub username: String,
    /// The first letter, for the avatar.
    pub initial: String,
    pub role: &'static str,
}

/// A time as pages show it, or a dash.
pub fn time_or_dash(t: &Option<i64>) -> String {
    t.map_or_else(|| "—".to_owned(), crate::clock::format_time)
}

/// The badge colour of a connection status (`macros.html`'s `status_badge`).
pub fn status_class(status: &crate::domain::connection::Status) -> &'static str {
    use crate::domain::connection::Status;
    match status {
        Status::Connected => "badge-green",
        Status::Disconnected => "badge-red",
        Status::NeedsReconnect => "badge-amber",
        Status::NotConnected => "badge-grey",
    }
}

/// A one-time message shown after a redirect.
pub struct Flash {
    pub message: String,
    pub is_error: bool,
}

impl Flash {
    /// Errors are stored with a leading `!`.
    fn decode(raw: &str) -> Flash {
        let text = url::form_urlencoded::parse(format!("m={raw}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .next()
            .unwrap_or_default();
        match text.strip_prefix('!') {
            Some(message) => Flash { message: message.to_owned(), is_error: true },
            None => Flash { message: text, is_error: false },
        }
    }
}

/// What the base template needs besides the page itself.
pub struct Layout {
    pub user: Option<UserBadge>,
    pub csrf: Escaped,
    pub flash: Option<Flash>,
    /// The console section to highlight in the navigation.
    pub section: &'static str,
    /// How many connections need attention (the navigation's badge), when counted.
    pub attention: Option<i64>,
}

impl Layout {
    /// The layout for a signed-in user, with the one-time flash message if there is one.
    pub fn new(req: &HttpRequest, signed_in: Option<&SignedIn>, section: &'static str) -> Layout {
        Layout {
            user: signed_in.map(|s| UserBadge {
                username: s.user.username.clone(),
                initial: s
                    .user
                    .username
                    .chars()
                    .next()
                    .map(|c| c.to_uppercase().collect())
                    .unwrap_or_default(),
                role: s.user.role().label(),
            }),
            csrf: Escaped::new(signed_in.map_or("", |s| s.csrf())),
            flash: raw_cookie(req, FLASH_COOKIE).map(|v| Flash::decode(&v)).filter(|f| !f.message.is_empty()),
            section,
            attention: req.extensions().get::<AttentionCount>().map(|n| n.0),
        }
    }
}

/// Text escaped for HTML once, for a page that shows it many times: a list row shows its link name
/// six times, its name four times and the CSRF token once. askama writes an `HtmlSafe` value as it
/// is.
pub struct Escaped(String);

impl Escaped {
    pub fn new(text: &str) -> Escaped {
        let mut escaped = String::with_capacity(text.len());
        // Writing to a String cannot fail.
        let _ = askama::filters::Escaper::write_escaped_str(&askama::filters::Html, &mut escaped, text);
        Escaped(escaped)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Escaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Escaped {}

/// A cookie's value as sent. `HttpRequest::cookie` percent-decodes it, which would decode the flash
/// message twice (a `+` or `%41` in a provider's message would change).
fn raw_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookies_raw().ok()?.iter().find(|c| c.name() == name).map(|c| c.value().to_owned())
}

/// Renders a template as a page with `status`, clearing a flash message that it has now shown.
pub fn render_status(
    req: &HttpRequest,
    status: StatusCode,
    template: &impl Template,
) -> Result<HttpResponse, AppError> {
    let body = template.render().map_err(|e| AppError::Internal(format!("template: {e}")))?;
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    if req.cookie(FLASH_COOKIE).is_some() {
        let mut gone = Cookie::new(FLASH_COOKIE, "");
        gone.set_path("/");
        gone.set_max_age(CookieDuration::ZERO);
        res.cookie(gone);
    }
    Ok(res.body(body))
}

/// Renders a page with 200.
pub fn render(req: &HttpRequest, template: &impl Template) -> Result<HttpResponse, AppError> {
    render_status(req, StatusCode::OK, template)
}

/// 303 See Other to a local path (POST → redirect → GET), with an optional one-time message.
pub fn see_other(location: &str, flash: Option<&str>) -> HttpResponse {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((LOCATION, location.to_owned()));
    if let Some(message) = flash {
        let encoded: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
        res.cookie(
            Cookie::build(FLASH_COOKIE, encoded).path("/").http_only(true).same_site(SameSite::Lax).finish(),
        );
    }
    res.finish()
}

/// Form bodies: 256 KiB at most, and a clear message when one cannot be read.
pub fn form_config() -> actix_web::web::FormConfig {
    actix_web::web::FormConfig::default().limit(256 * 1024).error_handler(|err, _req| {
        use actix_web::error::UrlencodedError as E;
        match err {
            E::Overflow { .. } => AppError::TooLarge.into(),
            E::Payload(e) if crate::body_deadline::cut_off(&e) => AppError::BodyTimeout.into(),
            other => AppError::BadRequest(format!("The form could not be read: {other}.")).into(),
        }
    })
}

/// Whether htmx asked for just the fragment that fills `target` (history restores and boosted
/// navigation get whole pages).
pub fn wants_fragment(req: &HttpRequest, target: &str) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    header("hx-request") == Some("true")
        && header("hx-history-restore-request") != Some("true")
        && header("hx-target") == Some(target)
}

/// 303 See Other with a one-time error message.
pub fn see_other_error(location: &str, message: &str) -> HttpResponse {
    see_other(location, Some(&format!("!{message}")))
}

/// A `next` parameter is followed only when a browser would read it as a path on this site, after the
/// WHATWG URL parser's clean-up: it drops leading and trailing C0 controls and spaces, and tabs and
/// line breaks anywhere, so `/\t/evil.example` is `//evil.example`, another host. What remains is
/// what is checked and returned: one `/` first, then no second `/` (a host would follow) and no `\`
/// anywhere (read as `/`), no `:` (a scheme) and no other control character (no header carries one).
pub fn local_path(next: Option<&str>) -> Cow<'_, str> {
    const STRIPPED: [char; 3] = ['\t', '\n', '\r'];
    let Some(raw) = next else { return Cow::Borrowed("/") };
    let trimmed = raw.trim_matches(|c: char| c <= ' ');
    let path = if trimmed.contains(STRIPPED) {
        Cow::Owned(trimmed.replace(STRIPPED, ""))
    } else {
        Cow::Borrowed(trimmed)
    };
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains(['\\', ':'])
        && !path.chars().any(char::is_control);
    if local { path } else { Cow::Borrowed("/") }
}

#[cfg(test)]
mod tests;
