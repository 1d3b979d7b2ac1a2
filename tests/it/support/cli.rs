//! The `connections` binary, run as a process the way an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::app::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_connections");

/// The binary on `db`, in its data folder, with no admin password or keys from the test's own
/// environment and quiet logs.
pub fn command(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(db.dir.path())
        .env_remove("CONNECTIONS_ADMIN_PASSWORD")
        .env_remove("CONNECTIONS_ENCRYPTION_KEYS")
        .env("DATABASE_URL", &db.url)
        .env("CONNECTIONS_DATA_DIR", db.dir.path())
        .env("RUST_LOG", "warn");
    cmd
}

/// Starts `serve` and returns the child with the lines it printed up to the URL line (and one more).
pub fn serve(db: &TestDb, env: &[(&str, &str)]) -> (Child, Vec<String>) {
    let mut cmd = command(db);
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let done = line.starts_with("(This password")
            || (line.starts_with("Connections is running") && !lines.is_empty());
        lines.push(line);
        // Without a generated password, the URL line is the last one.
        if done
            || (lines.len() == 1
                && rx.recv_timeout(Duration::from_millis(500)).map(|l| lines.push(l)).is_err())
        {
            break;
        }
        if lines.iter().any(|l| l.starts_with("(This password")) {
            break;
        }
    }
    (child, lines)
}
