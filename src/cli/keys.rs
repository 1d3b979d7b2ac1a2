//! `connections keys …`: status, rotate, rewrap and retire the encryption keys. They read the
//! keyring from the same settings as `serve` and work on a database the app may be serving.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::DbArgs;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{Keyring, Secret};
use crate::db::Db;
use crate::error::AppError;
use crate::keys::{self, KeySource, RewrapOptions};
use crate::models::audit::By;

/// Where the keyring comes from: the same settings as `serve`.
#[derive(Debug, Args)]
pub struct KeyringArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Folder of the generated key file.
    #[arg(long, env = "CONNECTIONS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The keyring itself (`kid:base64`, …); `rotate` and `retire` cannot change it.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS", hide_env_values = true)]
    pub encryption_keys: Option<String>,
    /// The key file.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_FILE")]
    pub encryption_keys_file: Option<PathBuf>,
    /// A command whose output is the keyring; `rotate` and `retire` cannot change it.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_COMMAND", hide_env_values = true)]
    pub encryption_keys_command: Option<String>,
    /// Seconds the keyring command may run.
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_COMMAND_TIMEOUT_SECS", default_value_t = 30)]
    pub encryption_keys_command_timeout_secs: u32,
    /// How often the running instances reload their keyring (as they are configured).
    #[arg(long, env = "CONNECTIONS_ENCRYPTION_KEYS_RELOAD_SECS", default_value_t = 60)]
    pub encryption_keys_reload_secs: u32,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Count the sealed values per key id and say which key is active.
    Status(KeyringArgs),
    /// Generate a new key, add it to the key file as the active key, and keep the old ones.
    Rotate(KeyringArgs),
    /// Re-seal every secret under the active key, in batches, while the app keeps serving.
    Rewrap {
        /// Rows per transaction.
        #[arg(long, default_value_t = 100)]
        batch_size: i64,
        /// Stop after this many batches (run the command again to go on).
        #[arg(long)]
        max_batches: Option<u64>,
        /// Every instance was restarted since the rotation: do not wait for them to reload the keyring.
        #[arg(long)]
        restarted: bool,
        #[command(flatten)]
        keyring: KeyringArgs,
    },
    /// Remove a key that seals nothing any more from the key file.
    Retire {
        /// The key id to remove.
        kid: String,
        #[command(flatten)]
        keyring: KeyringArgs,
    },
}

impl KeyringArgs {
    fn config(&self) -> Config {
        let mut config = Config::new(&self.db.database_url, self.data_dir.clone(), "127.0.0.1:0");
        config.encryption_keys = self.encryption_keys.clone().map(Secret::new);
        config.encryption_keys_file = self.encryption_keys_file.clone();
        config.encryption_keys_command = self.encryption_keys_command.clone().map(Secret::new);
        config.encryption_keys_command_timeout_secs =
            u64::from(self.encryption_keys_command_timeout_secs.max(1));
        config.encryption_keys_reload_secs = u64::from(self.encryption_keys_reload_secs);
        config
    }
}

/// Runs a keys command and returns what to print last (rewrap prints its progress as it goes).
pub fn run_keys(command: KeysCommand) -> Result<String, AppError> {
    let now = Clock::system().now();
    match command {
        KeysCommand::Status(args) => {
            let (config, db) = (args.config(), super::open(&args.db)?);
            let (source, keyring) = keys::load(&config, &db)?;
            status(&db, &source, &keyring)
        }
        KeysCommand::Rotate(args) => keys::rotate(&args.config(), &super::open(&args.db)?, now),
        KeysCommand::Retire { kid, keyring } => {
            keys::retire(&keyring.config(), &super::open(&keyring.db)?, &kid, now)
        }
        KeysCommand::Rewrap { batch_size, max_batches, restarted, keyring: args } => {
            if batch_size < 1 {
                return Err(AppError::BadRequest("--batch-size must be at least 1".into()));
            }
            let (config, db) = (args.config(), super::open(&args.db)?);
            let (source, keyring) = keys::load(&config, &db)?;
            keys::check_database_key_ids(&db, &keyring, now)?;
            keys::check_rewrap_may_start(&config, &db, &keyring.active_kid(), now, restarted)?;
            let options = RewrapOptions { batch_size, max_batches };
            let mut print = |line: &str| println!("{line}");
            let done = keys::rewrap(&mut *db.get()?, &keyring, options, &mut print)?;
            let details = serde_json::json!({
                "resealed": done.resealed, "batches": done.batches, "stopped_early": done.stopped_early,
            });
            let active = keyring.active_kid();
            let event = By::CLI.event("key.rewrap", "encryption_key", &active, details);
            crate::models::audit::record(&mut *db.get()?, event, now)?;
            let mut out = format!(
                "re-sealed {} value(s) under {} in {} batch(es)",
                done.resealed,
                keyring.active_kid(),
                done.batches
            );
            if done.changed_meanwhile > 0 {
                out += &format!(
                    "; {} changed while this ran and were left to their writer",
                    done.changed_meanwhile
                );
            }
            if done.stopped_early {
                out += "\nstopped after --max-batches: run the command again to go on";
            }
            for place in &done.unreadable {
                out += &format!("\nno key in the keyring opens {place}: it was left as it is");
            }
            Ok(format!("{out}\n{}", status(&db, &source, &keyring)?))
        }
    }
}

/// The sealed values per key id, the active key and the keyring's source.
fn status(db: &Db, source: &KeySource, keyring: &Keyring) -> Result<String, AppError> {
    let census = keys::census(&mut *db.get()?, &keyring.kids())?;
    let from = match source {
        KeySource::Setting => "the CONNECTIONS_ENCRYPTION_KEYS setting".to_owned(),
        KeySource::File { path, .. } => format!("the file {}", path.display()),
        KeySource::Command => "the output of CONNECTIONS_ENCRYPTION_KEYS_COMMAND".to_owned(),
    };
    let mut out = format!("keyring from {from}\n{:<34} {:<8} sealed values", "KEY ID", "STATE");
    for (kid, count) in &census.by_kid {
        let state = if *kid == keyring.active_kid() { "active" } else { "old" };
        out += &format!("\n{kid:<34} {state:<8} {count}");
    }
    if census.other > 0 {
        out += &format!("\n{:<34} {:<8} {}", "(a key id not in the keyring)", "missing", census.other);
    }
    let old = census.total - census.count(&keyring.active_kid());
    out += &match old {
        0 => format!("\nall {} sealed value(s) are under the active key", census.total),
        n => format!("\n{n} value(s) are under other keys: run `connections keys rewrap`"),
    };
    Ok(out)
}
