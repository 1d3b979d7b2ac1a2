//! The PostgreSQL URL the app connects with: the operator's, plus client-side timeouts that libpq
//! reads from its query string. Without them a server that stops answering, or a network that drops
//! everything, holds a connection (and the thread using it) for as long as the kernel keeps the
//! socket, which is hours; at start-up, a server that accepts TCP and says nothing would hang the
//! app for ever. `statement_timeout` does not help there: it is the server's, and the server is the
//! part that is gone.

use super::Backend;

/// Each setting libpq takes from the URL, and the value used when the operator set none.
///
/// - `connect_timeout` (seconds): opening a connection, the start-up against a silent server included.
/// - `keepalives*`: an idle connection whose server vanished is found dead after about 5 + 3 × 2 s
///   (a connection waiting for an answer is idle too, as far as TCP is concerned).
/// - `tcp_user_timeout` (ms): a connection whose sent data stays unacknowledged this long is closed.
///   It also caps the keepalive probing above. A live server acknowledges at once, however long its
///   statement runs, so this does not cut long statements.
const CLIENT_TIMEOUTS: [(&str, &str); 6] = [
    ("connect_timeout", "5"),
    ("keepalives", "1"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "10000"),
];

/// `url` with every client timeout it (or, for `connect_timeout`, `PGCONNECT_TIMEOUT`) does not set
/// added to its query. An operator's value is never replaced. Other URLs come back unchanged.
pub fn with_client_timeouts(url: &str) -> String {
    let env_connect_timeout = std::env::var_os("PGCONNECT_TIMEOUT").is_some_and(|v| !v.is_empty());
    add_defaults(url, env_connect_timeout)
}

/// libpq's message for a connection that could not be opened, saying what "timeout expired" means.
pub fn explain(message: &str) -> String {
    let message = message.trim().replace('\n', " ").replace('\t', "");
    if message.contains("timeout expired") {
        return format!(
            "the server did not answer within connect_timeout (5 s unless DATABASE_URL or PGCONNECT_TIMEOUT \
             sets another): {message}"
        );
    }
    message
}

fn add_defaults(url: &str, env_connect_timeout: bool) -> String {
    if Backend::of(url) != Backend::Postgres {
        return url.to_owned();
    }
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let set: Vec<&str> = query.split('&').map(|pair| pair.split('=').next().unwrap_or_default()).collect();
    let mut out = url.to_owned();
    for (key, value) in CLIENT_TIMEOUTS {
        if set.contains(&key) || (key == "connect_timeout" && env_connect_timeout) {
            continue;
        }
        if !out.contains('?') {
            out.push('?');
        } else if !out.ends_with(['?', '&']) {
            out.push('&');
        }
        out.push_str(&format!("{key}={value}"));
    }
    out
}

#[cfg(test)]
mod tests;
