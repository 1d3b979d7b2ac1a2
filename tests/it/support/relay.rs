//! A TCP relay on 127.0.0.1 in front of a server (PostgreSQL), for fault injection: `cut` resets
//! every connection and refuses new ones, `black_hole` keeps connections open but passes nothing
//! either way (a network that silently drops), `restore` lets traffic through again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const OPEN: u8 = 0;
const CUT: u8 = 1;
const BLACK_HOLE: u8 = 2;

pub struct Relay {
    pub port: u16,
    mode: Arc<AtomicU8>,
    /// Tells every live connection that the mode changed.
    changed: watch::Sender<u8>,
}

impl Relay {
    /// Starts a relay to `target` (`host:port`), on a thread of its own: the app under test opens
    /// database connections with blocking calls, which must not stall the relay.
    pub async fn start(target: String) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(OPEN));
        let (changed, _) = watch::channel(OPEN);
        let (accept_mode, accept_changed) = (mode.clone(), changed.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                while let Ok((client, _)) = listener.accept().await {
                    if accept_mode.load(Ordering::SeqCst) == CUT {
                        drop(client);
                        continue;
                    }
                    let (target, mode, changes) =
                        (target.clone(), accept_mode.clone(), accept_changed.subscribe());
                    tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(&target).await {
                            pipe(client, server, mode, changes).await;
                        }
                    });
                }
            })
        });
        Relay { port, mode, changed }
    }

    /// A relay in front of the PostgreSQL server of `url`, and `url` rewritten to go through it.
    pub async fn in_front_of(url: &str) -> (Relay, String) {
        let parsed = url::Url::parse(url).expect("a database URL");
        let target = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432));
        let relay = Relay::start(target).await;
        let mut through = parsed.clone();
        through.set_host(Some("127.0.0.1")).unwrap();
        through.set_port(Some(relay.port)).unwrap();
        (relay, through.to_string())
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.changed.send_replace(mode);
    }

    /// Resets every connection and refuses new ones.
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// Accepts connections and keeps them open, but passes nothing.
    pub fn black_hole(&self) {
        self.set(BLACK_HOLE);
    }

    pub fn restore(&self) {
        self.set(OPEN);
    }
}

/// Copies both ways until either side closes or the relay is cut; while black-holed, holds what it
/// reads instead of passing it on.
async fn pipe(client: TcpStream, server: TcpStream, mode: Arc<AtomicU8>, mut changes: watch::Receiver<u8>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (mut up, mut down) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let mut held: Vec<(bool, Vec<u8>)> = Vec::new();
    loop {
        let current = mode.load(Ordering::SeqCst);
        if current == CUT {
            return;
        }
        if current == OPEN {
            for (to_server, bytes) in held.drain(..) {
                let sent = if to_server {
                    server_write.write_all(&bytes).await
                } else {
                    client_write.write_all(&bytes).await
                };
                if sent.is_err() {
                    return;
                }
            }
        }
        tokio::select! {
            read = client_read.read(&mut up) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) if mode.load(Ordering::SeqCst) == OPEN => {
                    if server_write.write_all(&up[..n]).await.is_err() {
                        return;
                    }
                }
                Ok(n) => held.push((true, up[..n].to_vec())),
            },
            read = server_read.read(&mut down) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) if mode.load(Ordering::SeqCst) == OPEN => {
                    if client_write.write_all(&down[..n]).await.is_err() {
                        return;
                    }
                }
                Ok(n) => held.push((false, down[..n].to_vec())),
            },
            _ = changes.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
