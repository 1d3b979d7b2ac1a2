//! The TLS relay behind `pg_tls`: a Unix socket in a private folder that libpq connects to, and
//! for each connection a TCP connection to the server, PostgreSQL's `SSLRequest`, the rustls
//! handshake, then bytes piped both ways. It runs on a thread and runtime of its own, so that a
//! caller blocked in libpq (a test's single-threaded runtime, an HTTP worker) never holds it up.
//!
//! A connection the relay cannot open (server unreachable, TLS refused, certificate rejected) is
//! answered with a PostgreSQL error message, so libpq reports why instead of a closed socket.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::pg_tls::{Target, client_config};

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// How long opening the server side (TCP, `SSLRequest`, handshake) may take.
const OPEN_WITHIN: Duration = Duration::from_secs(10);
/// Prefix of the relay folders in the data folder.
const FOLDER_PREFIX: &str = "pg-tls-";
/// The longest Unix socket path Linux takes (`sun_path` less its terminating zero).
const MAX_SOCKET_PATH: usize = 107;

/// A new private folder for a relay's socket under `parent`, after removing the folders of relays
/// that are gone (a socket nobody listens on, in a folder older than a minute).
pub fn new_folder(parent: &Path) -> Result<PathBuf, String> {
    crate::private_files::create_dir(parent)
        .map_err(|e| format!("cannot create the data folder {}: {e}", parent.display()))?;
    let parent = parent.canonicalize().map_err(|e| format!("cannot resolve {}: {e}", parent.display()))?;
    remove_stale(&parent);
    let dir = parent
        .join(format!("{FOLDER_PREFIX}{}", crate::random::random_urlsafe(6).map_err(|e| e.to_string())?));
    crate::private_files::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for dir in entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(FOLDER_PREFIX)) {
        let sockets: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .map(|inner| inner.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        let gone = |socket: &PathBuf| {
            matches!(
                std::os::unix::net::UnixStream::connect(socket).map_err(|e| e.kind()),
                Err(ErrorKind::ConnectionRefused | ErrorKind::NotFound)
            )
        };
        // A folder another process has just made may not hold its socket yet.
        let young = dir
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < Duration::from_secs(60));
        if !young && sockets.iter().all(gone) {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
}

/// Listens in `dir` where libpq looks for a server on `target.port`, and relays each connection
/// to `target` for as long as the process runs.
pub fn start(target: Target, dir: &Path) -> Result<(), String> {
    let config = Arc::new(client_config(&target)?);
    let socket = dir.join(format!(".s.PGSQL.{}", target.port));
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(format!(
            "the path {} is too long for a Unix socket: use a shorter CONNECTIONS_DATA_DIR",
            socket.display()
        ));
    }
    let listener = std::os::unix::net::UnixListener::bind(&socket)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pg-tls-relay")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the TLS relay: {e}"))?;
    let target = Arc::new(target);
    std::thread::Builder::new()
        .name("pg-tls-relay".into())
        .spawn(move || runtime.block_on(serve(listener, target, config)))
        .map_err(|e| format!("cannot start the TLS relay thread: {e}"))?;
    Ok(())
}

/// Accepts libpq's connections and relays each on a task of its own.
async fn serve(listener: std::os::unix::net::UnixListener, target: Arc<Target>, config: Arc<ClientConfig>) {
    let listener = match tokio::net::UnixListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => return tracing::error!(error = %e, "the PostgreSQL TLS relay cannot listen"),
    };
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                tokio::spawn(relay(client, target.clone(), TlsConnector::from(config.clone())));
            }
            Err(e) => {
                tracing::warn!(error = %e, "the PostgreSQL TLS relay could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One libpq connection, to its end.
async fn relay(mut client: UnixStream, target: Arc<Target>, connector: TlsConnector) {
    let opened = tokio::time::timeout(OPEN_WITHIN, open(&target, &connector)).await;
    let mut server = match opened {
        Ok(Ok(server)) => server,
        Ok(Err(why)) => return refuse(client, &target, &why).await,
        Err(_) => return refuse(client, &target, "no answer within 10 s").await,
    };
    // Either side closing ends both; an error is the connection's end as libpq will see it.
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// TCP to the server, PostgreSQL's TLS request, and the handshake.
async fn open(target: &Target, connector: &TlsConnector) -> Result<TlsStream<TcpStream>, String> {
    let mut tcp = TcpStream::connect((target.connect_to.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    tune(&tcp);
    tcp.write_all(&SSL_REQUEST).await.map_err(|e| format!("cannot ask for TLS: {e}"))?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await.map_err(|e| format!("no answer to the TLS request: {e}"))?;
    match answer[0] {
        b'S' => {}
        b'N' => return Err("the server does not accept TLS connections (its ssl setting is off)".into()),
        _ => return Err("the server answered the TLS request with something else".into()),
    }
    let name = rustls::pki_types::ServerName::try_from(target.host.clone())
        .map_err(|_| format!("{:?} is not a host name a certificate can name", target.host))?;
    connector.connect(name, tcp).await.map_err(|e| format!("the TLS handshake failed: {e}"))
}

/// The client-side timeouts `pg_url` gives libpq's own TCP connections: over the relay, libpq's
/// socket is a Unix one, and they belong on the relay's.
fn tune(tcp: &TcpStream) {
    let socket = socket2::SockRef::from(tcp);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(2))
        .with_retries(3);
    let tuned = tcp
        .set_nodelay(true)
        .and_then(|()| socket.set_tcp_keepalive(&keepalive))
        .and_then(|()| socket.set_tcp_user_timeout(Some(Duration::from_secs(10))));
    if let Err(e) = tuned {
        tracing::warn!(error = %e, "cannot set the TLS relay's TCP options");
    }
}

/// Reads libpq's start-up packet (closing a socket with unread data would reset it, hiding the
/// message) and answers with a PostgreSQL error that says why the relay could not connect.
async fn refuse(mut client: UnixStream, target: &Target, why: &str) {
    let message = format!("TLS to PostgreSQL at {}:{} failed: {why}", target.host, target.port);
    tracing::warn!("{message}");
    let read_startup = async {
        let len = client.read_u32().await.ok()?;
        let mut rest = vec![0u8; (len as usize).saturating_sub(4).min(64 * 1024)];
        client.read_exact(&mut rest).await.ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read_startup).await;
    let mut fields = Vec::new();
    for (code, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "08001"), (b'M', message.as_str())] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut packet = vec![b'E'];
    packet.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    packet.extend_from_slice(&fields);
    let _ = client.write_all(&packet).await;
    let _ = client.shutdown().await;
}
