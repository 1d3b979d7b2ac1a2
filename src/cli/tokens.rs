//! `connections token create | list | revoke`: API tokens for scripts, made and revoked by an
//! operator at the command line (recorded in the audit log as `cli`).

use clap::Subcommand;

use super::{DbArgs, cli_error, find_user, open};
use crate::clock::{Clock, format_time};
use crate::error::AppError;
use crate::models::api_token::{self, Scope};
use crate::models::audit::By;
use crate::ops::tokens::{self, Expiry, TokenInput};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it once.
    Create {
        name: String,
        #[arg(long, default_value = "script")]
        label: String,
        /// Days until the token expires, or `never`.
        #[arg(long, value_name = "DAYS|never", default_value = "90", value_parser = parse_expiry)]
        expires_in_days: Expiry,
        /// Restrict the token to invoking this connection (repeat for more): what a script should hold.
        #[arg(long = "restrict", value_name = "LINK")]
        restrict: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List API tokens (never the token itself).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke an API token by id.
    Revoke {
        id: i64,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `--expires-in-days`: a number of days, or `never`.
fn parse_expiry(raw: &str) -> Result<Expiry, String> {
    match raw.trim() {
        "never" => Ok(Expiry::Never),
        days => days.parse().map(Expiry::Days).map_err(|_| "a number of days, or never".to_owned()),
    }
}

/// Runs a token command and returns what to print.
pub fn run_token(command: TokenCommand) -> Result<String, AppError> {
    let now = Clock::system().now();
    match command {
        TokenCommand::Create { name, label, expires_in_days, restrict, db } => {
            let db = open(&db)?;
            let mut conn = db.get()?;
            let owner = find_user(&mut conn, &name)?;
            let connections = (!restrict.is_empty()).then_some(restrict);
            let input = TokenInput { label, expiry: expires_in_days, connections };
            let created = tokens::create_in(&mut conn, By::CLI, &owner, &input, now).map_err(cli_error)?;
            let expires = created.listed.token.expires_at.map_or_else(|| "never".to_owned(), format_time);
            let scope = match &created.listed.scope {
                Scope::Everything => String::new(),
                restricted => format!("; {}", restricted.refusal()),
            };
            Ok(format!(
                "created token {} for {name}, expiring {expires}{scope}\nIt is shown only this once:\n{}",
                created.id,
                created.token.expose()
            ))
        }
        TokenCommand::List { db } => {
            let tokens = api_token::list(&mut *open(&db)?.get()?, None)?;
            let mut out = format!(
                "{:<6} {:<20} {:<12} {:<20} {:<22} {:<22} {:<24} status",
                "ID", "USER", "PREFIX", "LABEL", "LAST USED", "EXPIRES", "MAY INVOKE"
            );
            for api_token::Listed { token: t, owner, scope } in tokens {
                let used = t.last_used_at.map_or_else(|| "never".to_owned(), format_time);
                let expires = t.expires_at.map_or_else(|| "never".to_owned(), format_time);
                let restricted = match scope {
                    Scope::Everything => "anything".to_owned(),
                    Scope::InvokeOnly(allowed) => {
                        allowed.into_iter().map(|(_, link)| link).collect::<Vec<_>>().join(",")
                    }
                };
                out += &format!(
                    "\n{:<6} {:<20} {:<12} {:<20} {:<22} {:<22} {:<24} {}",
                    t.id,
                    owner,
                    format!("{}…", t.prefix),
                    t.label,
                    used,
                    expires,
                    restricted,
                    t.status(now),
                );
            }
            Ok(out)
        }
        TokenCommand::Revoke { id, db } => {
            match tokens::revoke_in(&mut *open(&db)?.get()?, By::CLI, id, now) {
                Ok((_, true)) => Ok(format!("token {id} revoked")),
                Ok((_, false)) | Err(AppError::NotFound) => {
                    Err(AppError::BadRequest(format!("no active token with id {id}")))
                }
                Err(e) => Err(e),
            }
        }
    }
}
