//! The command line: `serve` (the default), the `user` / `token` / `keys` / `templates` administration
//! commands, and the operations ones (`migrate`, `backup`). Each command is a few lines that call into the
//! library.

mod keys;
mod migrate;
mod services;
mod templates;

pub use keys::{KeyringArgs, KeysCommand, run_keys};
pub use migrate::{Migrated, run_migrate};
pub use services::{ServicesCommand, run_services};
pub use templates::{TemplatesCommand, run_templates};

use std::io::{BufRead, IsTerminal};

use clap::{Args, Parser, Subcommand};

use crate::clock::{Clock, format_time};
use crate::config::{Config, ServeArgs};
use crate::crypto::Secret;
use crate::db::Db;
use crate::error::AppError;
use crate::models::api_token::{self, Scope};
use crate::models::{session, user};
use crate::ops::tokens::{self, Expiry, TokenInput};
use crate::password;

#[derive(Debug, Parser)]
#[command(
    name = "connections",
    version,
    about = "Connections: custom services and connections for service-desk admins"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Export or import service definitions (JSON, never a secret).
    #[command(subcommand)]
    Services(ServicesCommand),
    /// The service templates built into this binary.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Rotate, re-seal and retire the encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Apply pending database migrations (`serve` does it too), or list them with --check.
    Migrate {
        /// List the pending migrations without applying them: exit status 0 when none is pending,
        /// 1 when some are.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Copy a running SQLite database into a new FILE (never over an existing one). Back up the
    /// key file too, separately: the copy cannot be read without it.
    Backup {
        file: std::path::PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/connections.db")]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input or prompted for.
    Add {
        name: String,
        #[arg(long, value_parser = ["sdadmin", "technician"])]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a new password: an operator's reset. Ends the user's sessions everywhere and revokes their
    /// API tokens (a password change after a compromise must shut out a script holding a stolen token).
    Passwd {
        name: String,
        /// Keep the user's API tokens working (a routine change, not a suspected compromise).
        #[arg(long)]
        keep_tokens: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Change a user's role.
    SetRole {
        name: String,
        #[arg(value_parser = ["sdadmin", "technician"])]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable a user: they can no longer sign in, and their sessions end.
    Disable {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Enable a disabled user again.
    Enable {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

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

/// Opens the database for an administration command (migrating it, so a fresh one works too).
pub(crate) fn open(db: &DbArgs) -> Result<Db, AppError> {
    let url = crate::db::through_tls_relay(&db.database_url, &std::env::temp_dir())?;
    let db = Db::connect(&url, 2)?;
    db.migrate()?;
    Ok(db)
}

fn find_user(conn: &mut crate::db::DbConn, name: &str) -> Result<user::User, AppError> {
    user::find_by_name(conn, name)?.ok_or_else(|| AppError::BadRequest(format!("no user named {name:?}")))
}

/// Reads a password: prompted twice on a terminal, otherwise the first line of standard input.
fn read_password() -> Result<Secret, AppError> {
    let io = |e: std::io::Error| AppError::BadRequest(format!("cannot read the password: {e}"));
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(io)?;
        let again = rpassword::prompt_password("Repeat password: ").map_err(io)?;
        if first != again {
            return Err(AppError::BadRequest("the passwords do not match".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(io)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let password = Secret::new(password);
    password::check_policy(&password).map_err(AppError::BadRequest)?;
    Ok(password)
}

/// Runs a user command and returns what to print.
pub fn run_user(command: UserCommand) -> Result<String, AppError> {
    let now = Clock::system().now();
    match command {
        UserCommand::Add { name, role, db } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_whitespace) {
                return Err(AppError::BadRequest("a username has 1 to 100 characters and no spaces".into()));
            }
            let role = user::Role::parse(&role).ok_or_else(|| AppError::BadRequest("unknown role".into()))?;
            let db = open(&db)?;
            let hash = password::hash_blocking(&read_password()?)?;
            match user::insert(&mut *db.get()?, &name, &hash, role, now) {
                Ok(_) => Ok(format!("added {name} ({})", role.label())),
                Err(e) if crate::db::is_unique_violation(&e) => {
                    Err(AppError::BadRequest(format!("a user named {name:?} already exists")))
                }
                Err(e) => Err(e.into()),
            }
        }
        UserCommand::List { db } => {
            let users = user::list(&mut *open(&db)?.get()?)?;
            let mut out = format!("{:<24} {:<11} {:<9} created", "USERNAME", "ROLE", "STATUS");
            for u in users {
                let status = if u.disabled {
                    "disabled"
                } else if u.is_locked(now) {
                    "locked"
                } else {
                    "active"
                };
                out += &format!(
                    "\n{:<24} {:<11} {:<9} {}",
                    u.username,
                    u.role().label(),
                    status,
                    format_time(u.created_at)
                );
            }
            Ok(out)
        }
        UserCommand::Passwd { name, keep_tokens, db } => {
            let db = open(&db)?;
            let mut conn = db.get()?;
            let found = find_user(&mut conn, &name)?;
            let hash = password::hash_blocking(&read_password()?)?;
            // One transaction: a password never changes without its sessions (and tokens) ending.
            let revoked = crate::db::write_tx(&mut conn, |c| -> Result<usize, AppError> {
                user::set_password(c, found.id, &hash, now)?;
                session::delete_for_user(c, found.id)?;
                Ok(if keep_tokens { 0 } else { api_token::revoke_for_user(c, found.id, now)? })
            })?;
            let tokens = match (keep_tokens, revoked) {
                (true, _) => "their API tokens were kept".to_owned(),
                (false, 1) => "1 API token was revoked".to_owned(),
                (false, n) => format!("{n} API tokens were revoked"),
            };
            Ok(format!("password changed for {name}; their sessions have ended and {tokens}"))
        }
        UserCommand::SetRole { name, role, db } => {
            let role = user::Role::parse(&role).ok_or_else(|| AppError::BadRequest("unknown role".into()))?;
            let db = open(&db)?;
            let mut conn = db.get()?;
            let found = find_user(&mut conn, &name)?;
            user::set_role(&mut conn, found.id, role, now)?;
            Ok(format!("{name} is now {}", role.label()))
        }
        UserCommand::Disable { name, db } => set_disabled(&name, &db, true, now),
        UserCommand::Enable { name, db } => set_disabled(&name, &db, false, now),
    }
}

fn set_disabled(name: &str, db: &DbArgs, disabled: bool, now: i64) -> Result<String, AppError> {
    let db = open(db)?;
    let mut conn = db.get()?;
    let found = find_user(&mut conn, name)?;
    user::set_disabled(&mut conn, found.id, disabled, now)?;
    if disabled {
        session::delete_for_user(&mut conn, found.id)?;
        return Ok(format!("{name} is disabled; their sessions have ended"));
    }
    Ok(format!("{name} is enabled"))
}

/// `--expires-in-days`: a number of days, or `never`.
fn parse_expiry(raw: &str) -> Result<Expiry, String> {
    match raw.trim() {
        "never" => Ok(Expiry::Never),
        days => days.parse().map(Expiry::Days).map_err(|_| "a number of days, or never".to_owned()),
    }
}

/// A refused input, in one line per field, for the terminal.
pub(crate) fn cli_error(e: AppError) -> AppError {
    match e {
        AppError::Invalid(fields) => AppError::BadRequest(
            fields
                .into_iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => other,
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
            let created = tokens::create_in(&mut conn, &owner, &input, now).map_err(cli_error)?;
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
            if api_token::revoke(&mut *open(&db)?.get()?, id, now)? {
                Ok(format!("token {id} revoked"))
            } else {
                Err(AppError::BadRequest(format!("no active token with id {id}")))
            }
        }
    }
}

/// `serve`: builds the app, prints where it runs (and a generated admin password, once), and serves
/// until SIGTERM or Ctrl-C (see `shutdown`).
pub async fn serve(args: ServeArgs) -> Result<(), AppError> {
    let config = Config::from_args(args).map_err(|e| AppError::Startup(e.to_string()))?;
    let running = crate::app::build(config).await?;
    println!("Connections is running at {}", running.base_url);
    if let Some(password) = &running.generated_admin_password {
        println!("First start: sign in as user \"admin\" with password: {}", password.expose());
        println!("(This password is shown only once. Change it with `connections user passwd admin`.)");
    }
    crate::shutdown::serve_until_stopped(running).await
}
