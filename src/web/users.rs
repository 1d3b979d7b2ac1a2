//! Admin > Users: who may sign in, with their role, status and the connections they own, searchable
//! by name and filtered by role and status. The list is read whole and filtered here: a portal has
//! a handful of operators, not thousands.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::models::user::{self, Role, User};
use crate::state::AppState;
use crate::web::{Layout, render};

/// Whether a user can sign in at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
    Locked,
}

impl UserStatus {
    fn of(user: &User, now: i64) -> UserStatus {
        if user.disabled {
            UserStatus::Disabled
        } else if user.is_locked(now) {
            UserStatus::Locked
        } else {
            UserStatus::Active
        }
    }

    fn parse(raw: &str) -> Option<UserStatus> {
        match raw {
            "active" => Some(UserStatus::Active),
            "disabled" => Some(UserStatus::Disabled),
            "locked" => Some(UserStatus::Locked),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UserStatus::Active => "Active",
            UserStatus::Disabled => "Disabled",
            UserStatus::Locked => "Locked",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            UserStatus::Active => "badge-green",
            UserStatus::Disabled => "badge-grey",
            UserStatus::Locked => "badge-amber",
        }
    }
}

/// One row of the list.
pub struct UserRow {
    pub username: String,
    pub role: Role,
    pub status: UserStatus,
    pub connections: i64,
    pub last_sign_in_at: Option<i64>,
}

/// The search box and the two filters. Unknown filter values are ignored rather than refused,
/// like a bookmarked URL from an older page.
#[derive(Deserialize, Default)]
pub struct UserQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
}

impl UserQuery {
    fn keeps(&self, row: &UserRow) -> bool {
        let needle = self.q.trim().to_lowercase();
        (needle.is_empty() || row.username.to_lowercase().contains(&needle))
            && Role::parse(&self.role).is_none_or(|role| role == row.role)
            && UserStatus::parse(&self.status).is_none_or(|status| status == row.status)
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.trim().is_empty()
            || Role::parse(&self.role).is_some()
            || UserStatus::parse(&self.status).is_some()
    }
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct UsersPage {
    layout: Layout,
    rows: Vec<UserRow>,
    total: usize,
    query: UserQuery,
}

pub async fn list_users(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (users, owned) = state.db.run(|c| Ok((user::list(c)?, user::owned_counts(c)?))).await?;
    let now = state.clock.now();
    let total = users.len();
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            status: UserStatus::of(&u, now),
            connections: owned.iter().find(|(id, _)| *id == u.id).map_or(0, |(_, n)| *n),
            role: u.role(),
            last_sign_in_at: u.last_sign_in_at,
            username: u.username,
        })
        .filter(|row| query.keeps(row))
        .collect();
    let page = UsersPage { layout: Layout::new(&req, Some(&admin.0), "users"), rows, total, query };
    render(&req, &page)
}
