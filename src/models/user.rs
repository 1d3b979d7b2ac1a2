//! Users: who may sign in, their role, and the sign-in throttle kept with them.

use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

use crate::db::DbConn;
use crate::db::schema::users;

/// The two roles. Only SDAdmins may use the console and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    SdAdmin,
    Technician,
}

/// How a stored role is read: an unknown one is an error, never a guess.
impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(raw: String) -> Result<Role, String> {
        Role::parse(&raw).ok_or_else(|| format!("unknown role {raw:?}"))
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SdAdmin => "sdadmin",
            Role::Technician => "technician",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::SdAdmin => "SDAdmin",
            Role::Technician => "Technician",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        match raw.to_ascii_lowercase().as_str() {
            "sdadmin" => Some(Role::SdAdmin),
            "technician" => Some(Role::Technician),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    pub disabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_sign_in_at: Option<i64>,
    /// An administrator chose the password (a new user, a reset): the user must choose their own
    /// before any page but the change-password page (`auth::guard`).
    pub must_change_password: bool,
}

impl User {
    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// An enabled SDAdmin: one of those the last-SDAdmin rule counts (a locked account is only
    /// throttled for a while, and counts).
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::SdAdmin && !self.disabled
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    username: &'a str,
    password_hash: &'a str,
    role: &'a str,
    disabled: bool,
    failed_logins: i32,
    created_at: i64,
    updated_at: i64,
    must_change_password: bool,
}

/// Failures in a row that lock an account, and for how long.
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_SECS: i64 = 15 * 60;

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn insert(
    conn: &mut DbConn,
    username: &str,
    password_hash: &str,
    role: Role,
    now: i64,
) -> QueryResult<i64> {
    insert_with(conn, username, password_hash, role, false, now)
}

/// Adds a user; `must_change_password` when an administrator chose the password.
pub fn insert_with(
    conn: &mut DbConn,
    username: &str,
    password_hash: &str,
    role: Role,
    must_change_password: bool,
    now: i64,
) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values(NewUser {
            username,
            password_hash,
            role: role.as_str(),
            disabled: false,
            failed_logins: 0,
            created_at: now,
            updated_at: now,
            must_change_password,
        })
        .returning(users::id)
        .get_result(conn)
}

pub fn find_by_name(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::username.eq(username)).select(User::as_select()).get_result(conn).optional()
}

/// The names of the users `ids`.
pub fn names(conn: &mut DbConn, ids: Vec<i64>) -> QueryResult<Vec<(i64, String)>> {
    let slots = ids.len();
    users::table
        .filter(crate::db::IdIn::padded("users.id", ids, slots))
        .select((users::id, users::username))
        .load(conn)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table.order(users::username).select(User::as_select()).load(conn)
}

/// Whether no lock is in force at `now`: never locked, or the lock has ended.
#[diesel::dsl::auto_type]
fn unlocked_at(now: i64) -> _ {
    users::locked_until.is_null().or(users::locked_until.le(now))
}

/// Counts a failed sign-in in one statement, so that concurrent failures each count and none can
/// undo a lock another has set: the count goes up by one (starting again at one once a lock has
/// ended), and the failure that brings it to `MAX_FAILED_LOGINS` locks the account until
/// `now + LOCKOUT_SECS`. A locked account is left as it is: failures while locked neither extend the
/// lock (which would let anyone keep an account locked for ever) nor count towards the next one.
/// True when this failure locked the account.
pub fn record_failure(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<bool> {
    let counted = case_when(users::locked_until.is_null(), users::failed_logins + 1).otherwise(1);
    let locked_until =
        case_when(counted.ge(MAX_FAILED_LOGINS), (now + LOCKOUT_SECS).into_sql::<Nullable<BigInt>>())
            .otherwise(None::<i64>.into_sql::<Nullable<BigInt>>());
    let locked: Vec<Option<i64>> = diesel::update(users::table.find(id).filter(unlocked_at(now)))
        .set((users::failed_logins.eq(counted), users::locked_until.eq(locked_until)))
        .returning(users::locked_until)
        .get_results(conn)?;
    // Only an unlocked account is updated: a lock in the row is this failure's.
    Ok(locked.first().is_some_and(Option::is_some))
}

/// Admits a sign-in whose password was right: clears the count, in the same statement that checks
/// the account is still enabled and unlocked. False when it is not, because a lock (or a disable)
/// came after the account was read, while its password was being checked. It also notes the sign-in
/// time the users page shows.
pub fn record_success(conn: &mut DbConn, id: i64, now: i64) -> QueryResult<bool> {
    diesel::update(users::table.find(id).filter(users::disabled.eq(false)).filter(unlocked_at(now)))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<i64>),
            users::last_sign_in_at.eq(Some(now)),
        ))
        .execute(conn)
        .map(|rows| rows == 1)
}

pub fn set_password(conn: &mut DbConn, id: i64, password_hash: &str, now: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now),
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<i64>),
        ))
        .execute(conn)
        .map(drop)
}

/// Sets a password and whether it must be changed at the next sign-in (true when an administrator
/// chose it, false when the user did), clearing the sign-in lock like `set_password`.
pub fn set_password_to_change(
    conn: &mut DbConn,
    id: i64,
    password_hash: &str,
    must_change: bool,
    now: i64,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::must_change_password.eq(must_change),
            users::updated_at.eq(now),
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<i64>),
        ))
        .execute(conn)
        .map(drop)
}

/// The ids of the enabled SDAdmins, by id. On PostgreSQL their rows stay locked (`FOR UPDATE`) until
/// the transaction ends, so that two transactions that each check "another active SDAdmin remains"
/// run one after the other: the second waits, and then reads the first one's outcome (a row that no
/// longer matches is left out once it is unlocked). On SQLite the caller's `write_tx` (`BEGIN
/// IMMEDIATE`) already holds the database's one write lock from its start.
pub fn lock_active_admins(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    let query = users::table
        .filter(users::role.eq(Role::SdAdmin.as_str()))
        .filter(users::disabled.eq(false))
        .order(users::id)
        .select(users::id);
    match conn {
        DbConn::Pg(c) => query.for_update().load(c),
        DbConn::Sqlite(c) => query.load(c),
    }
}

/// Deletes a user; their sessions and API tokens go with them (foreign keys cascade), and their
/// consents in progress are deleted first (they hold no cascade). Fails with a foreign-key
/// violation while they own a connection.
pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    use crate::db::schema::oauth_flows;
    diesel::delete(oauth_flows::table.filter(oauth_flows::user_id.eq(id))).execute(conn)?;
    diesel::delete(users::table.find(id)).execute(conn).map(drop)
}

pub fn set_role(conn: &mut DbConn, id: i64, role: Role, now: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::role.eq(role.as_str()), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn set_disabled(conn: &mut DbConn, id: i64, disabled: bool, now: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn name_of(conn: &mut DbConn, id: i64) -> QueryResult<String> {
    users::table.find(id).select(users::username).get_result(conn)
}

/// How many connections each user owns, for the users who own any.
pub fn owned_counts(conn: &mut DbConn) -> QueryResult<Vec<(i64, i64)>> {
    use crate::db::schema::connections;
    connections::table
        .group_by(connections::owner_id)
        .select((connections::owner_id, diesel::dsl::count_star()))
        .load(conn)
}
