//! The audit log as admins read it, on the page, in exports and through the API alike: the filters
//! a URL carries, cursor pages newest first, and each entry's one-line summary. Nothing here
//! changes an entry (see `models::audit`); `retention` removes old ones.

pub mod export;
pub mod retention;
mod summary;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::AppError;
use crate::models::audit::{self, AuditEntry, Direction, Filter, Position};
use crate::state::AppState;

pub use summary::{entry_json, summary};

/// The kinds of object an entry names, as filters and links know them.
pub const OBJECT_TYPES: [(&str, &str); 8] = [
    ("service", "Service"),
    ("connection", "Connection"),
    ("api_token", "API token"),
    ("webhook", "Notification endpoint"),
    ("settings", "Settings"),
    ("user", "User"),
    ("encryption_key", "Encryption key"),
    ("audit_log", "Audit log"),
];

/// The actions the app records, for the action filter's menu.
pub const ACTIONS: [&str; 36] = [
    "auth.sign_in",
    "auth.sign_in_failed",
    "auth.locked",
    "auth.sign_out",
    "service.create",
    "service.update",
    "service.delete",
    "service.revoke_all",
    "connection.create",
    "connection.update",
    "connection.authorize",
    "connection.connect",
    "connection.revoke",
    "connection.delete",
    "connection.transfer",
    "token.create",
    "token.revoke",
    "webhook.create",
    "webhook.update",
    "webhook.delete",
    "settings.update",
    "user.create",
    "user.update",
    "user.password",
    "user.disable",
    "user.enable",
    "user.transfer_connections",
    "user.role_change",
    "user.password_reset",
    "user.password_change",
    "user.delete",
    "session.end",
    "key.rotate",
    "key.rewrap",
    "key.retire",
    "audit.pruned",
];

/// Rows a page or an API answer holds unless asked otherwise, and the most it may hold.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;
/// The longest text filter, in characters.
const MAX_TEXT: usize = 200;

/// What a URL asks for, as sent (the page, the exports and the API read the same names). An empty
/// value is no filter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub object_type: String,
    #[serde(default)]
    pub object: String,
    /// `YYYY-MM-DD` (UTC), the first day shown.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD` (UTC), the last day shown.
    #[serde(default)]
    pub to: String,
    /// Where a page starts, as a previous page gave it (opaque).
    #[serde(default)]
    pub cursor: String,
    #[serde(default)]
    pub limit: String,
}

/// A request's filter, where its page starts, and how many rows it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub filter: Filter,
    pub after: Option<(Position, Direction)>,
    pub limit: i64,
}

/// One page, newest first, and the cursors of the pages around it.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub rows: Vec<AuditEntry>,
    /// The page of newer entries, when this page is not the newest.
    pub newer: Option<String>,
    /// The page of older entries, when there are more.
    pub older: Option<String>,
}

fn text(field: &str, raw: &str) -> Result<Option<String>, AppError> {
    let value = raw.trim();
    if raw.chars().count() > MAX_TEXT || raw.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!(
            "`{field}` takes at most {MAX_TEXT} characters and no control characters."
        )));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// The start of a `YYYY-MM-DD` day (UTC), in unix seconds.
fn day_start(field: &str, raw: &str) -> Result<Option<i64>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let shaped = raw.len() == 10
        && raw
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().filter(|_| shaped);
    let date = date.ok_or_else(|| {
        AppError::BadRequest(format!("`{field}` is a date written YYYY-MM-DD, such as 2026-12-04."))
    })?;
    Ok(Some(date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()))
}

/// A cursor as pages and answers carry it: the direction, the time and the id, in URL-safe base64.
pub fn cursor(position: Position, direction: Direction) -> String {
    let way = match direction {
        Direction::Older => 'o',
        Direction::Newer => 'n',
    };
    URL_SAFE_NO_PAD.encode(format!("{way}.{}.{}", position.at, position.id))
}

fn parse_cursor(raw: &str) -> Result<Option<(Position, Direction)>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let refused =
        || AppError::BadRequest("`cursor` is not one this list gave: start again without it.".into());
    let text =
        URL_SAFE_NO_PAD.decode(raw).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(refused)?;
    let mut parts = text.split('.');
    let direction = match parts.next() {
        Some("o") => Direction::Older,
        Some("n") => Direction::Newer,
        _ => return Err(refused()),
    };
    let at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(refused)?;
    let id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(refused)?;
    if parts.next().is_some() {
        return Err(refused());
    }
    Ok(Some((Position { at, id }, direction)))
}

impl AuditParams {
    /// The query these parameters ask for, or a `BadRequest` that names the parameter at fault.
    pub fn query(&self) -> Result<AuditQuery, AppError> {
        let object_type = (!self.object_type.is_empty()).then(|| self.object_type.clone());
        if let Some(t) = &object_type
            && !OBJECT_TYPES.iter().any(|(known, _)| known == t)
        {
            let known: Vec<&str> = OBJECT_TYPES.iter().map(|(t, _)| *t).collect();
            return Err(AppError::BadRequest(format!("`object_type` is one of {}.", known.join(", "))));
        }
        let to = day_start("to", &self.to)?;
        let filter = Filter {
            actor: text("actor", &self.actor)?,
            action: text("action", &self.action)?,
            target_type: object_type,
            target: text("object", &self.object)?,
            from: day_start("from", &self.from)?,
            until: to.map(|t| t + 86_400),
        };
        let limit =
            match self.limit.as_str() {
                "" => DEFAULT_LIMIT,
                raw => raw.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                    AppError::BadRequest(format!("`limit` is a number from 1 to {MAX_LIMIT}."))
                })?,
            };
        Ok(AuditQuery { filter, after: parse_cursor(&self.cursor)?, limit })
    }

    /// The filters set (what a change of page keeps), without empty ones.
    pub fn kept(&self) -> Vec<(&'static str, &str)> {
        let all = [
            ("actor", self.actor.trim()),
            ("action", self.action.trim()),
            ("object_type", self.object_type.trim()),
            ("object", self.object.trim()),
            ("from", self.from.trim()),
            ("to", self.to.trim()),
            ("limit", self.limit.trim()),
        ];
        all.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }

    /// `path` with these filters, and `cursor` when given.
    pub fn url(&self, path: &str, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(self.kept());
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        let query = query.finish();
        if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
    }

    pub fn is_filtered(&self) -> bool {
        self.kept().iter().any(|(k, _)| *k != "limit")
    }
}

/// One page of the log for `q`.
pub async fn page(state: &AppState, q: AuditQuery) -> Result<AuditPage, AppError> {
    let (filter, after, limit) = (q.filter, q.after, q.limit);
    let mut rows = state.db.read(move |c| Ok(audit::page(c, &filter, after, limit + 1)?)).await?;
    let more = rows.len() as i64 > limit;
    let position = |e: &AuditEntry| Position { at: e.at, id: e.id };
    let (newer, older) = match after {
        None | Some((_, Direction::Older)) => {
            rows.truncate(limit as usize);
            (after.is_some(), more)
        }
        Some((_, Direction::Newer)) => {
            // Read oldest first from the cursor: the extra row is the newest one.
            if more {
                rows.remove(0);
            }
            (more, true)
        }
    };
    Ok(AuditPage {
        newer: rows.first().filter(|_| newer).map(|e| cursor(position(e), Direction::Newer)),
        older: rows.last().filter(|_| older).map(|e| cursor(position(e), Direction::Older)),
        rows,
    })
}

#[cfg(test)]
mod tests;
