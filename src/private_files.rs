//! Folders and files that hold secrets — the data folder, the SQLite database with its `-wal` and
//! `-shm` files, the key file — readable by the app's own user only: folders `0700`, files `0600`.
//! The database holds sealed secrets and session hashes; with the key file beside it, a copy is as
//! good as the secrets themselves.

use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents, each new one `0700`. A folder that exists is left as it is:
/// it may be one the operator chose and shares (the working directory, `/var/lib`).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes sure the SQLite database at `path` and its companions are `0600` before SQLite opens it.
///
/// SQLite creates a database with `0644` (less the umask), but it gives the `-wal`, `-shm` and
/// `-journal` files it creates the database file's own mode. So the database is created here,
/// empty and `0600`, and every new companion follows it; files left by an earlier version are
/// narrowed to `0600`. This holds whoever opens the file first (the server or a CLI command) and
/// needs no process-wide umask, which would also apply to every other file the process writes.
pub fn prepare_sqlite(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        narrow(Path::new(&name))?;
    }
    Ok(())
}

/// Takes every permission from group and others on `path`, if it exists.
fn narrow(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
