//! Where the keyring comes from: the `CONNECTIONS_ENCRYPTION_KEYS` setting, a key file (named or
//! generated in the data folder), or the standard output of `CONNECTIONS_ENCRYPTION_KEYS_COMMAND`.
//! Only a key file is something `keys rotate` and `keys retire` may write; they write it whole to a
//! temporary file beside it and rename it over the old one, so a crash leaves the old keyring or the
//! new one, never half of one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::crypto::Secret;
use crate::error::AppError;

/// File name of the generated keyring inside the data folder.
pub const GENERATED_KEY_FILE: &str = "encryption.keys";

/// The most a keyring command may print: a keyring of a few hundred keys.
const MAX_COMMAND_OUTPUT: u64 = 64 * 1024;

/// Where this configuration takes its keyring from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `CONNECTIONS_ENCRYPTION_KEYS`.
    Setting,
    /// A key file; `generated`: the data folder's, which start-up creates on a new database.
    File { path: PathBuf, generated: bool },
    /// `CONNECTIONS_ENCRYPTION_KEYS_COMMAND`.
    Command,
}

impl KeySource {
    /// The source `config` names. The command does not combine with the other two settings: which
    /// one wins would be a guess.
    pub fn of(config: &Config) -> Result<KeySource, AppError> {
        if config.encryption_keys_command.is_some() {
            if config.encryption_keys.is_some() || config.encryption_keys_file.is_some() {
                return Err(AppError::Startup(
                    "CONNECTIONS_ENCRYPTION_KEYS_COMMAND cannot be set together with \
                     CONNECTIONS_ENCRYPTION_KEYS or CONNECTIONS_ENCRYPTION_KEYS_FILE: keep one of them"
                        .into(),
                ));
            }
            return Ok(KeySource::Command);
        }
        if config.encryption_keys.is_some() {
            return Ok(KeySource::Setting);
        }
        Ok(match &config.encryption_keys_file {
            Some(path) => KeySource::File { path: path.clone(), generated: false },
            None => KeySource::File { path: config.data_dir.join(GENERATED_KEY_FILE), generated: true },
        })
    }

    /// One word for the settings page: `setting`, `file` or `command`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeySource::Setting => "setting",
            KeySource::File { .. } => "file",
            KeySource::Command => "command",
        }
    }

    /// The key file a command may rewrite, or why there is none and what to do instead.
    pub fn writable_file(&self, action: &str) -> Result<&Path, AppError> {
        let new_key = "put a new key (kid:base64 of 32 random bytes, e.g. from `openssl rand -base64 32`) \
                       first in the keyring and keep the old ones after it";
        match self {
            KeySource::File { path, .. } => Ok(path),
            KeySource::Setting => Err(AppError::BadRequest(format!(
                "cannot {action}: the keyring comes from CONNECTIONS_ENCRYPTION_KEYS, which this command \
                 cannot change. Edit that setting instead: {new_key}, restart every instance, then run \
                 `connections keys rewrap --restarted`"
            ))),
            KeySource::Command => Err(AppError::BadRequest(format!(
                "cannot {action}: the keyring comes from CONNECTIONS_ENCRYPTION_KEYS_COMMAND, which this \
                 command cannot change. Change the keyring where that command reads it: {new_key}; \
                 running instances take it up at their next reload, then run `connections keys rewrap`"
            ))),
        }
    }
}

/// Runs the keyring command with `sh -c` and returns its standard output. Neither that output nor
/// the command's error output ever goes into a message or a log: either may hold key material.
pub fn run_command(command: &Secret, timeout: Duration) -> Result<Secret, AppError> {
    let fail = |why: String| {
        AppError::Startup(format!(
            "CONNECTIONS_ENCRYPTION_KEYS_COMMAND {why}; its output is not shown: run the command yourself \
             to see it"
        ))
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command.expose())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("could not be started ({e})")))?;
    let stdout = child.stdout.take().ok_or_else(|| fail("gave no output pipe".into()))?;
    // Read on a thread so that a command that prints more than a pipe holds cannot block forever,
    // and a command that outlives its deadline can be left behind.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = stdout.take(MAX_COMMAND_OUTPUT + 1).read_to_end(&mut out);
        let _ = tx.send(read.map(|_| Secret::new(String::from_utf8_lossy(&out))));
        crate::crypto::wipe(&mut out);
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("did not finish within {} s and was stopped", timeout.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail(format!("could not be waited for ({e})"))),
        }
    };
    if !status.success() {
        let code = status.code().map_or_else(|| "a signal".to_owned(), |c| format!("status {c}"));
        return Err(fail(format!("failed (it exited with {code})")));
    }
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    let output = match rx.recv_timeout(left) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(fail(format!("output could not be read ({e})"))),
        Err(_) => return Err(fail("exited, but something it started still holds its output open".into())),
    };
    if output.expose().len() as u64 > MAX_COMMAND_OUTPUT {
        return Err(fail(format!("printed more than {MAX_COMMAND_OUTPUT} bytes")));
    }
    if output.expose().trim().is_empty() {
        return Err(fail("printed nothing: it must print the keyring (kid:base64key, …)".into()));
    }
    Ok(output)
}

/// Held while `rotate` or `retire` reads, changes and writes the key file: a second command on the
/// same file is refused, instead of writing a keyring that lacks the first one's new key.
pub struct KeyFileLock(PathBuf);

impl KeyFileLock {
    /// Takes the lock of the key file `path` (a file beside it, made only if it does not exist).
    pub fn take(path: &Path) -> Result<KeyFileLock, AppError> {
        let lock = beside(path, "lock");
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => Ok(KeyFileLock(lock)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(AppError::BadRequest(format!(
                "another `connections keys rotate` or `retire` is changing {} (its lock file {} exists). \
                 If none is running, one was stopped part-way: remove the lock file and run the command \
                 again. Nothing was changed.",
                path.display(),
                lock.display()
            ))),
            Err(e) => {
                Err(AppError::BadRequest(format!("cannot create the lock file {}: {e}", lock.display())))
            }
        }
    }
}

impl Drop for KeyFileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A hidden file beside `path`: `.<name>.<suffix>`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.{suffix}"))
}

/// Replaces the key file at `path` with `spec`: a new file of mode 0600 in the same folder, written
/// and synced, then renamed over the old one.
pub fn replace_key_file(path: &Path, spec: &Secret) -> Result<(), AppError> {
    let fail =
        |e: std::io::Error| AppError::BadRequest(format!("cannot write key file {}: {e}", path.display()));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Left behind only by a command stopped part-way; the lock keeps two writers apart.
    let temp = beside(path, "new");
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(format!("{}\n", spec.expose()).as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e));
    }
    // The rename is durable once the folder is synced.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}
