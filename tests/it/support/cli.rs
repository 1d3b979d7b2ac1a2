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
    serve_logging_to(db, env, Stdio::null())
}

/// `serve`, writing its log to `log` (a file the test reads afterwards).
pub fn serve_logging_to(db: &TestDb, env: &[(&str, &str)], log: impl Into<Stdio>) -> (Child, Vec<String>) {
    let mut cmd = command(db);
    cmd.args(["serve", "--bind", "127.0.0.1:0"]).envs(env.iter().copied()).stdout(Stdio::piped()).stderr(log);
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

/// The URL a started `serve` printed, without its trailing slash.
pub fn url_of(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("Connections is running at "))
        .unwrap_or_else(|| panic!("no URL line in {lines:?}"))
        .trim_end_matches('/')
        .to_owned()
}

/// Sends SIGTERM to `child`, as a service manager stops it.
pub fn send_sigterm(child: &Child) {
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(sent.success(), "kill -TERM");
}

/// Waits for `child` to exit; fails the test after 60 s.
pub fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("still running after 60 s");
}

/// Sends SIGTERM to `child` and waits for it to exit.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    send_sigterm(child);
    wait_for_exit(child)
}

/// Runs `cmd` to its end and returns what it printed; one still running after 60 s is killed and
/// fails the test.
pub fn run_to_end(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("still running after 60 s: {:?}", child.wait_with_output().unwrap());
}
