//! How many sealed values each key id seals, over every secret column: services' client secrets,
//! connections' credentials and tokens, the PKCE verifiers of OAuth flows, webhook signing secrets and
//! URLs, and the SMTP password. Every sealed value
//! begins with its key id (see `Keyring::header_of`), so the database counts them itself by comparing
//! each value's first bytes: nothing is decrypted and no secret leaves the database.

use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Nullable};

use crate::crypto::Keyring;
use crate::db::DbConn;
use crate::db::schema::{connections, oauth_flows, services, smtp_settings, webhook_endpoints};

#[diesel::declare_sql_function]
extern "SQL" {
    /// `substr` on bytes, the same on both backends (SQLite counts a blob's bytes, PostgreSQL has
    /// `substr(bytea, int, int)`).
    fn substr(value: Nullable<Binary>, start: Integer, length: Integer) -> Nullable<Binary>;
}

/// Runs `count(*)` with `$filter` over every secret column, `$col` naming the column inside the
/// filter, and sums the counts. Every column a secret is sealed into is listed here and in
/// `rewrap`.
macro_rules! count_over_sealed_columns {
    ($conn:expr, |$col:ident| $filter:expr) => {{
        let mut sum: i64 = 0;
        {
            let $col = services::client_secret;
            sum += services::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = connections::credentials;
            sum += connections::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = connections::access_token;
            sum += connections::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = connections::refresh_token;
            sum += connections::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = connections::previous_refresh_token;
            sum += connections::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = oauth_flows::pkce_verifier.nullable();
            sum += oauth_flows::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = webhook_endpoints::secret.nullable();
            sum += webhook_endpoints::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = webhook_endpoints::url;
            sum += webhook_endpoints::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        {
            let $col = smtp_settings::password;
            sum += smtp_settings::table.filter($filter).count().get_result::<i64>($conn)?;
        }
        sum
    }};
}

/// The sealed values per key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Census {
    /// Each key id asked about, in the order asked, with how many values it seals.
    pub by_kid: Vec<(String, i64)>,
    /// Values sealed under none of those key ids.
    pub other: i64,
    /// All sealed values.
    pub total: i64,
}

impl Census {
    /// How many values `kid` seals (0 for a key id not asked about).
    pub fn count(&self, kid: &str) -> i64 {
        self.by_kid.iter().find(|(k, _)| k == kid).map_or(0, |(_, n)| *n)
    }
}

/// Counts the sealed values under each of `kids`.
pub fn census(conn: &mut DbConn, kids: &[String]) -> QueryResult<Census> {
    let total = count_over_sealed_columns!(conn, |col| col.is_not_null());
    let mut by_kid = Vec::new();
    for kid in kids {
        by_kid.push((kid.clone(), count_under(conn, kid)?));
    }
    let other = total - by_kid.iter().map(|(_, n)| n).sum::<i64>();
    Ok(Census { by_kid, other, total })
}

/// How many values are sealed under `kid`.
pub fn count_under(conn: &mut DbConn, kid: &str) -> QueryResult<i64> {
    let header = Keyring::header_of(kid);
    let len = header.len() as i32;
    Ok(count_over_sealed_columns!(conn, |col| substr(col, 1, len).eq(header.clone())))
}

/// One key id as the settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub kid: String,
    /// It seals what this instance writes.
    pub active: bool,
    /// This instance holds the key.
    pub loaded: bool,
    pub sealed: i64,
    /// When the database first recorded it as active.
    pub first_used_at: Option<i64>,
}

/// The keys as the settings page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Every key id the keyring holds (active first) or the database recorded.
    pub keys: Vec<KeyUse>,
    /// Sealed values under another key than the active one.
    pub under_old_keys: i64,
    pub total: i64,
}

/// The keys of `keyring` and those the database recorded, with their counts.
pub fn overview(conn: &mut DbConn, keyring: &Keyring) -> QueryResult<Overview> {
    use crate::db::schema::encryption_key_ids;
    let recorded: Vec<(String, i64)> = encryption_key_ids::table
        .select((encryption_key_ids::kid, encryption_key_ids::first_used_at))
        .order(encryption_key_ids::first_used_at.desc())
        .load(conn)?;
    let (active, mut kids) = (keyring.active_kid(), keyring.kids());
    let unloaded: Vec<String> =
        recorded.iter().map(|(kid, _)| kid.clone()).filter(|kid| !kids.contains(kid)).collect();
    kids.extend(unloaded);
    let census = census(conn, &kids)?;
    let keys = census
        .by_kid
        .iter()
        .map(|(kid, sealed)| KeyUse {
            active: *kid == active,
            loaded: keyring.has_kid(kid),
            sealed: *sealed,
            first_used_at: recorded.iter().find(|(k, _)| k == kid).map(|(_, at)| *at),
            kid: kid.clone(),
        })
        .collect();
    Ok(Overview { keys, under_old_keys: census.total - census.count(&active), total: census.total })
}
