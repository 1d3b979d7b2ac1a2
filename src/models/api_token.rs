//! API tokens for scripts: shown once at creation, stored as a SHA-256 hash with a short prefix for
//! lists. A token expires at `expires_at` (none only when "never" was chosen), and a restricted one
//! may only invoke the connections listed for it in `api_token_connections`.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{api_token_connections, api_tokens, connections, users};
use crate::models::user::User;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    pub token_hash: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub restricted: bool,
    pub last_used_address: Option<String>,
}

impl ApiToken {
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// `active`, `expired` or `revoked`, as lists show it.
    pub fn status(&self, now: i64) -> &'static str {
        match (self.revoked_at, self.expired(now)) {
            (Some(_), _) => "revoked",
            (None, true) => "expired",
            (None, false) => "active",
        }
    }
}

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Whatever its user may do through the API.
    Everything,
    /// Only invoke (and test) these connections, by id and link name. Empty when every listed
    /// connection was deleted: the token may then do nothing.
    InvokeOnly(Vec<(i64, String)>),
}

impl Scope {
    /// Whether the token may invoke the connection of this link name (checked before it is loaded,
    /// so a restricted token learns nothing about other connections, not even whether they exist).
    pub fn permits_link(&self, link_name: &str) -> bool {
        match self {
            Scope::Everything => true,
            Scope::InvokeOnly(allowed) => allowed.iter().any(|(_, link)| link == link_name),
        }
    }

    /// Whether a restriction lists this link name.
    pub fn names(&self, link_name: &str) -> bool {
        matches!(self, Scope::InvokeOnly(allowed) if allowed.iter().any(|(_, link)| link == link_name))
    }

    /// Whether the token may invoke the connection of this id: a connection deleted and created again
    /// under the same link name is another connection.
    pub fn permits_connection(&self, id: i64) -> bool {
        match self {
            Scope::Everything => true,
            Scope::InvokeOnly(allowed) => allowed.iter().any(|(allowed_id, _)| *allowed_id == id),
        }
    }

    /// The message a restricted token gets everywhere else.
    pub fn refusal(&self) -> String {
        match self {
            Scope::Everything => String::new(),
            Scope::InvokeOnly(allowed) if allowed.is_empty() => {
                "This token may only invoke connections that have all been deleted: it can do nothing."
                    .to_owned()
            }
            Scope::InvokeOnly(allowed) => {
                let links: Vec<&str> = allowed.iter().map(|(_, link)| link.as_str()).collect();
                format!("This token may only invoke: {}.", links.join(", "))
            }
        }
    }
}

/// A live (not revoked) token as the guards check it.
#[derive(Debug, Clone)]
pub struct LiveToken {
    pub token: ApiToken,
    pub scope: Scope,
    pub user: User,
}

/// A token to create; `restrict_to` lists connection ids (`None`: unrestricted).
pub struct NewToken<'a> {
    pub user_id: i64,
    pub label: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub expires_at: Option<i64>,
    pub restrict_to: Option<&'a [i64]>,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
struct TokenRow<'a> {
    user_id: i64,
    label: &'a str,
    token_hash: &'a str,
    prefix: &'a str,
    created_at: i64,
    expires_at: Option<i64>,
    restricted: bool,
}

/// Inserts a token and its restriction, in one transaction; returns its id.
pub fn insert(conn: &mut DbConn, new: &NewToken<'_>, now: i64) -> QueryResult<i64> {
    crate::db::write_tx(conn, |conn| {
        let id = diesel::insert_into(api_tokens::table)
            .values(TokenRow {
                user_id: new.user_id,
                label: new.label,
                token_hash: new.token_hash,
                prefix: new.prefix,
                created_at: now,
                expires_at: new.expires_at,
                restricted: new.restrict_to.is_some(),
            })
            .returning(api_tokens::id)
            .get_result(conn)?;
        let rows: Vec<_> = new
            .restrict_to
            .unwrap_or_default()
            .iter()
            .map(|c| (api_token_connections::token_id.eq(id), api_token_connections::connection_id.eq(*c)))
            .collect();
        if !rows.is_empty() {
            crate::on_backend!(conn, |c| diesel::insert_into(api_token_connections::table)
                .values(&rows)
                .execute(c))?;
        }
        Ok(id)
    })
}

/// A live (not revoked) token, what it may do and its user.
pub fn find_active_with_user(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<LiveToken>> {
    let found: Option<(ApiToken, User)> = crate::on_backend!(conn, |c| api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .select((ApiToken::as_select(), User::as_select()))
        .get_result(c)
        .optional())?;
    let Some((token, user)) = found else { return Ok(None) };
    let scope = if token.restricted {
        Scope::InvokeOnly(allowed(conn, vec![token.id])?.remove(&token.id).unwrap_or_default())
    } else {
        Scope::Everything
    };
    Ok(Some(LiveToken { token, scope, user }))
}

/// The connections each of these tokens is restricted to, by link name.
fn allowed(conn: &mut DbConn, token_ids: Vec<i64>) -> QueryResult<HashMap<i64, Vec<(i64, String)>>> {
    let rows: Vec<(i64, i64, String)> = crate::on_backend!(conn, |c| api_token_connections::table
        .inner_join(connections::table)
        .filter(api_token_connections::token_id.eq_any(&token_ids))
        .order(connections::link_name)
        .select((api_token_connections::token_id, connections::id, connections::link_name))
        .load(c))?;
    let mut by_token: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for (token_id, id, link) in rows {
        by_token.entry(token_id).or_default().push((id, link));
    }
    Ok(by_token)
}

/// Records a use: when, and from which address.
pub fn mark_used(conn: &mut DbConn, id: i64, now: i64, address: Option<&str>) -> QueryResult<()> {
    diesel::update(api_tokens::table.find(id))
        .set((api_tokens::last_used_at.eq(now), api_tokens::last_used_address.eq(address)))
        .execute(conn)
        .map(drop)
}

/// A token as lists show it: with its owner's name and its restriction.
#[derive(Debug, Clone)]
pub struct Listed {
    pub token: ApiToken,
    pub owner: String,
    pub scope: Scope,
}

/// Every token (or one user's), with its owner's name, newest first.
pub fn list(conn: &mut DbConn, owner: Option<i64>) -> QueryResult<Vec<Listed>> {
    let mut query = api_tokens::table.inner_join(users::table).into_boxed();
    if let Some(owner) = owner {
        query = query.filter(api_tokens::user_id.eq(owner));
    }
    let rows: Vec<(ApiToken, String)> =
        query.order(api_tokens::id.desc()).select((ApiToken::as_select(), users::username)).load(conn)?;
    let restricted: Vec<i64> = rows.iter().filter(|(t, _)| t.restricted).map(|(t, _)| t.id).collect();
    let mut allowed = if restricted.is_empty() { HashMap::new() } else { allowed(conn, restricted)? };
    Ok(rows
        .into_iter()
        .map(|(token, owner)| {
            let scope = if token.restricted {
                Scope::InvokeOnly(allowed.remove(&token.id).unwrap_or_default())
            } else {
                Scope::Everything
            };
            Listed { token, owner, scope }
        })
        .collect())
}

/// One token as lists show it.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Listed>> {
    let found: Option<(ApiToken, String)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::id.eq(id))
        .select((ApiToken::as_select(), users::username))
        .get_result(conn)
        .optional()?;
    let Some((token, owner)) = found else { return Ok(None) };
    let scope = if token.restricted {
        Scope::InvokeOnly(allowed(conn, vec![id])?.remove(&id).unwrap_or_default())
    } else {
        Scope::Everything
    };
    Ok(Some(Listed { token, owner, scope }))
}

/// Revokes a token; returns false when there was no live token with that id.
pub fn revoke(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<bool> {
    diesel::update(api_tokens::table.find(id).filter(api_tokens::revoked_at.is_null()))
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Revokes every live token of a user (a password reset); returns how many.
pub fn revoke_for_user(conn: &mut DbConn, user_id: i64, now: i64) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table.filter(api_tokens::user_id.eq(user_id)).filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// Connections a restriction can name, by link name: `(link name, display name)`, at most `limit`.
pub fn connection_choices(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<(String, String)>> {
    connections::table
        .order(connections::link_name)
        .limit(limit)
        .select((connections::link_name, connections::name))
        .load(conn)
}
