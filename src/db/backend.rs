//! Which backend a `DATABASE_URL` selects, and the URLs refused because they select neither.

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://` and `postgresql://` select PostgreSQL; `sqlite://` (or a bare path) SQLite.
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The forms of `DATABASE_URL` there are, for the message that refuses another.
pub const SUPPORTED_URLS: &str =
    "sqlite://path, sqlite:path, a bare path (SQLite), postgres://… or postgresql://…";

/// The backend of a database URL, refusing a scheme that is neither SQLite's nor PostgreSQL's: it
/// would otherwise name a SQLite file (`mysql://…` a folder `mysql:`). A one-letter scheme is a
/// drive letter. The message names the scheme, never the rest of the URL (it may hold a password).
pub fn check_url(url: &str) -> Result<Backend, String> {
    if url.trim().is_empty() {
        return Err(format!("it is empty; use {SUPPORTED_URLS}"));
    }
    if ["postgres://", "postgresql://", "sqlite:"].iter().any(|known| url.starts_with(known)) {
        return Ok(Backend::of(url));
    }
    let is_scheme = |s: &str| {
        s.len() > 1
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    if let Some((scheme, _)) = url.split_once(':')
        && is_scheme(scheme)
    {
        return Err(format!("the scheme {scheme:?} is not supported; use {SUPPORTED_URLS}"));
    }
    if url.contains("://") {
        return Err(format!("it is not a database URL this app supports; use {SUPPORTED_URLS}"));
    }
    Ok(Backend::Sqlite)
}

/// The SQLite file path of a `sqlite://` URL (or a bare path).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}
