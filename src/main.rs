//! The `connections` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use connections::cli::{self, Cli, Command};
use connections::logs;

/// mimalloc instead of glibc's allocator: a request allocates and frees many small buffers (headers,
/// JSON, rows), and mimalloc does that with less work than glibc's malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match logs::Format::parse(std::env::var("CONNECTIONS_LOG_FORMAT").ok().as_deref()) {
        Ok(format) => logs::init(format),
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::User(command)) => cli::run_user(command).map(|out| println!("{out}")),
        Some(Command::Token(command)) => cli::run_token(command).map(|out| println!("{out}")),
        Some(Command::Templates(command)) => cli::run_templates(command).map(|out| println!("{out}")),
        // An export to standard output has written the file itself, and says nothing more.
        Some(Command::Services(command)) => cli::run_services(command).map(|out| {
            if !out.is_empty() {
                println!("{out}")
            }
        }),
        Some(Command::Migrate { check, db }) => match cli::run_migrate(check, &db) {
            Ok(migrated) => {
                println!("{}", migrated.report);
                return if migrated.pending { ExitCode::FAILURE } else { ExitCode::SUCCESS };
            }
            Err(e) => Err(e),
        },
        Some(Command::Backup { file, db }) => {
            connections::backup::backup(&db.database_url, &file).map(|out| println!("{out}"))
        }
        Some(Command::Keys(command)) => cli::run_keys(command).map(|out| println!("{out}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message += &format!(": {cause}");
                source = cause.source();
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: connections::config::ServeArgs) -> Result<(), connections::error::AppError> {
    actix_web::rt::System::new().block_on(cli::serve(args))
}
