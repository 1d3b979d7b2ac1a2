//! `connections services export [FILE]` and `connections services import FILE`: the service
//! definitions file (`domain::service_export`) on the database directly, through the same
//! operations as the pages and the API (`ops::service_io`). An import creates all the services of
//! the file in one transaction, or none; the client secrets are entered on the services' pages.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use super::{DbArgs, cli_error, open};
use crate::clock::Clock;
use crate::domain::service_export::MAX_BYTES;
use crate::error::AppError;
use crate::ops::service_io::{self, Importer, Refused};

#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Write the definitions of every service (or of the `--link` ones) to FILE, or to standard
    /// output without one. Never a secret.
    Export {
        file: Option<PathBuf>,
        /// A service to export (repeat it); none: every service.
        #[arg(long = "link", value_name = "LINK")]
        links: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create the services of FILE (`-`: standard input): all of them, or none when any of them
    /// breaks a rule or takes a link name in use.
    Import {
        file: PathBuf,
        /// Allow plain-http URLs in the services, as the server does with the same setting.
        #[arg(long, env = "CONNECTIONS_OUTBOUND_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
        outbound_allow_http: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn io(what: &str) -> impl Fn(std::io::Error) -> AppError + '_ {
    move |e| AppError::BadRequest(format!("cannot {what}: {e}"))
}

/// Reads FILE (or standard input for `-`), refusing more than a file may hold before reading it all.
fn read_file(file: &PathBuf) -> Result<String, AppError> {
    let mut raw = Vec::new();
    let limit = MAX_BYTES as u64 + 1;
    if file.as_os_str() == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut raw).map_err(io("read standard input"))?;
    } else {
        let opened = std::fs::File::open(file).map_err(io("open the file"))?;
        opened.take(limit).read_to_end(&mut raw).map_err(io("read the file"))?;
    }
    if raw.len() > MAX_BYTES {
        return Err(AppError::BadRequest(format!("the file is larger than {} KiB", MAX_BYTES / 1024)));
    }
    String::from_utf8(raw).map_err(|_| AppError::BadRequest("the file is not UTF-8 text".into()))
}

/// Runs a services command and returns what to print (an export to standard output prints itself).
pub fn run_services(command: ServicesCommand) -> Result<String, AppError> {
    match command {
        ServicesCommand::Export { file, links, db } => {
            let db = open(&db)?;
            let (doc, count) =
                service_io::export(&mut *db.get()?, (!links.is_empty()).then_some(links.as_slice()))
                    .map_err(cli_error)?;
            match file {
                Some(path) => {
                    std::fs::write(&path, &doc).map_err(io("write the file"))?;
                    Ok(format!("exported {count} service(s) to {}", path.display()))
                }
                None => {
                    std::io::stdout().lock().write_all(doc.as_bytes()).map_err(io("write"))?;
                    Ok(String::new())
                }
            }
        }
        ServicesCommand::Import { file, outbound_allow_http, db } => {
            let raw = read_file(&file)?;
            let db = open(&db)?;
            let by = Importer { actor_id: None, actor: "cli" };
            let now = Clock::system().now();
            match service_io::import(&mut *db.get()?, &raw, outbound_allow_http, &by, now) {
                Ok(created) => {
                    let pending: Vec<&str> = created
                        .iter()
                        .filter(|s| s.client_secret_pending)
                        .map(|s| s.link_name.as_str())
                        .collect();
                    let mut out = format!("imported {} service(s)", created.len());
                    if !pending.is_empty() {
                        out += &format!("; enter the client secret of {} on their pages", pending.join(", "));
                    }
                    Ok(out)
                }
                Err(Refused::Services(plan)) => {
                    let why = cli_error(AppError::Invalid(plan.errors()));
                    let (refused, all) = (plan.refused(), plan.items.len());
                    Err(AppError::BadRequest(format!(
                        "nothing was imported: {refused} of {all} service(s) refused: {why}"
                    )))
                }
                Err(Refused::Error(e @ AppError::Invalid(_))) => {
                    Err(AppError::BadRequest(format!("nothing was imported: {}", cli_error(e))))
                }
                Err(Refused::Error(e)) => Err(e),
            }
        }
    }
}
