//! The one error type. Every handler returns `AppError`; `web::errors` turns it into the HTML page or the
//! JSON body for its route, in one place. Messages shown to people never carry a secret or a cause chain.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// Messages per form field, e.g. `{"link_name": ["is already taken"]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// A connection a change would affect, as a confirmation lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Affected {
    pub link_name: String,
    pub name: String,
    pub owner: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("sign-in required")]
    Unauthenticated,
    /// An API token past its expiry time.
    #[error("the API token has expired: create a new one")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(String),
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// A signed-in user whose password an administrator chose: every page but the change-password
    /// page sends them there (`web::errors`).
    #[error("choose a new password to continue")]
    PasswordChangeRequired,
    #[error("{0}")]
    BadRequest(String),
    /// The path exists but does not take this method; the methods it takes, for `Allow`.
    #[error("this address does not accept that method")]
    MethodNotAllowed(String),
    #[error("the input is not valid")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("the request is too large")]
    TooLarge,
    /// The body did not arrive in full in time (see `body_deadline`).
    #[error("the request body took too long to arrive")]
    BodyTimeout,
    /// A connection that cannot be used now; `status` is its status value.
    #[error("{message}")]
    NotConnected { status: &'static str, message: String },
    /// A change that sets connections aside until their owners reconnect, sent without the
    /// confirmation that says so: nothing was changed.
    #[error("{message}")]
    ConfirmationRequired { message: String, affected: Vec<Affected> },
    /// The third party could not be reached, timed out, or answered too much.
    #[error("{0}")]
    Upstream(String),
    /// The third party did not answer in time, where the caller talks to it as to a gateway (the
    /// proxy): 504.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// A passing failure on our side of a third party (a token refresh cooling down).
    #[error("{0}")]
    Unavailable(String),
    /// The provider asked to wait before the next token request: 503 with `Retry-After`.
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    #[error("database error")]
    Db(#[from] diesel::result::Error),
    #[error("the database is unavailable")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The database did not answer within the bound of `Db::run`.
    #[error("the database did not answer within {} s", .0.as_secs_f32())]
    DbTimeout(std::time::Duration),
    #[error("encryption error")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("{0}")]
    Startup(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a client is told to wait before it tries again after a 503 for the database.
pub const RETRY_AFTER_SECS: u32 = 5;

impl AppError {
    /// The database is away or overloaded (no pooled connection in time, no answer in time, a lost
    /// connection, SQLite's write lock held too long, see `is_unavailable`): a passing outage,
    /// answered 503 with `Retry-After`, not a fault of the request or of the app.
    pub fn database_unavailable(&self) -> bool {
        match self {
            AppError::Pool(_) | AppError::DbTimeout(_) => true,
            AppError::Db(e) => is_unavailable(e),
            _ => false,
        }
    }

    /// For the log, what a database outage looks like: the database's own words, on one line.
    pub fn outage_cause(&self) -> String {
        let text = match self {
            AppError::Db(diesel::result::Error::DatabaseError(_, info)) => info.message().to_owned(),
            AppError::Pool(e) => e.to_string(),
            other => other.to_string(),
        };
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A short machine-readable code for JSON bodies.
    pub fn code(&self) -> &'static str {
        match self.status_code() {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::UNAUTHORIZED if matches!(self, AppError::TokenExpired) => "token_expired",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN if matches!(self, AppError::Csrf) => "csrf",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            StatusCode::CONFLICT if matches!(self, AppError::NotConnected { .. }) => "not_connected",
            StatusCode::CONFLICT if matches!(self, AppError::ConfirmationRequired { .. }) => {
                "confirmation_required"
            }
            StatusCode::CONFLICT => "conflict",
            StatusCode::BAD_GATEWAY => "upstream",
            StatusCode::GATEWAY_TIMEOUT => "upstream_timeout",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        }
    }

    /// What a person may read: our own wording for server-side failures, never their cause.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Db(diesel::result::Error::NotFound) | AppError::NotFound => {
                "The page or item you asked for does not exist.".to_owned()
            }
            AppError::Unauthenticated => "Sign in to continue.".to_owned(),
            e if e.database_unavailable() => {
                "The database is unavailable right now; try again shortly.".to_owned()
            }
            AppError::Db(_) | AppError::Crypto(_) | AppError::Startup(_) | AppError::Internal(_) => {
                "Something went wrong on our side. The error has been logged.".to_owned()
            }
            other => capitalise(&other.to_string()),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            e if e.database_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound | AppError::Db(diesel::result::Error::NotFound) => StatusCode::NOT_FOUND,
            AppError::Unauthenticated | AppError::TokenExpired => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Csrf | AppError::PasswordChangeRequired => {
                StatusCode::FORBIDDEN
            }
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::NotConnected { .. } | AppError::ConfirmationRequired { .. } => StatusCode::CONFLICT,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::Unavailable(_)
            | AppError::RateLimited { .. }
            | AppError::Pool(_)
            | AppError::DbTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Db(_) | AppError::Crypto(_) | AppError::Startup(_) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// A plain body; `web::errors::render_errors` replaces it with the page or JSON for the route.
    ///
    /// Only our own faults are errors in the log. A third party's failure was logged where it
    /// happened (`outbound`, the token refresh), and a database outage is a warning, once a minute
    /// whatever the number of requests it fails.
    fn error_response(&self) -> HttpResponse {
        // Our errors hold no secret: secret types print "[redacted]", and the database's messages
        // name no password.
        match self {
            e if e.database_unavailable() => crate::logs::warn(
                "the database",
                &format_args!("the database is unavailable: {}", e.outage_cause()),
            ),
            AppError::Upstream(_)
            | AppError::UpstreamTimeout(_)
            | AppError::Unavailable(_)
            | AppError::RateLimited { .. } => {
                tracing::debug!(error = %self, "request failed")
            }
            e if e.status_code().is_server_error() => tracing::error!(error = ?self, "request failed"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        if let AppError::MethodNotAllowed(allow) = self {
            res.insert_header((actix_web::http::header::ALLOW, allow.as_str()));
        }
        if self.database_unavailable() {
            res.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS));
        }
        if let AppError::RateLimited { retry_after_secs, .. } = self {
            res.insert_header((actix_web::http::header::RETRY_AFTER, *retry_after_secs));
        }
        res.body(self.public_message())
    }
}

/// Whether a diesel error means the database is away or overloaded rather than that the statement
/// is wrong: a lost connection, SQLite's lock held past the busy timeout, a full disk, a read
/// cancelled by its statement timeout. A request answers 503 for it (see `AppError::database_unavailable`).
fn is_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const PASSING: [&str; 4] = [
        "database is locked",
        "database table is locked",
        "database or disk is full",
        "canceling statement due to statement timeout",
    ];
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => PASSING.iter().any(|passing| info.message().contains(passing)),
        _ => false,
    }
}
