//! Proving that a secret never shows: canary values to plant, every answer a test received, all the
//! database holds as text, and the assertion that none of it holds a canary.

use std::sync::Mutex;

use diesel::prelude::*;

use super::app::TestApp;
use super::browser::Page;

/// Everything the database holds, as text: the SQLite files byte for byte (WAL included), or
/// every row of every PostgreSQL table.
pub async fn database_text(app: &TestApp) -> String {
    let url = app.state.config.database_url.clone();
    match url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-journal"] {
                all.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        None => tokio::task::spawn_blocking(move || {
            #[derive(QueryableByName)]
            struct Line {
                #[diesel(sql_type = diesel::sql_types::Text)]
                line: String,
            }
            let mut conn = diesel::PgConnection::establish(&url).expect("connect");
            let tables: Vec<Line> = diesel::sql_query(
                "SELECT table_name::text AS line FROM information_schema.tables \
                 WHERE table_schema = 'public'",
            )
            .load(&mut conn)
            .unwrap();
            let mut all = String::new();
            for t in tables {
                let rows: Vec<Line> =
                    diesel::sql_query(format!("SELECT t::text AS line FROM \"{}\" t", t.line))
                        .load(&mut conn)
                        .unwrap();
                all.extend(rows.into_iter().map(|r| r.line + "\n"));
            }
            all
        })
        .await
        .unwrap(),
    }
}

/// Fails when `haystack` holds any secret, as is or hex-encoded (how PostgreSQL prints bytes).
pub fn assert_hidden(haystack: &str, secrets: &[String], place: &str) {
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert!(!haystack.contains(secret.as_str()), "{place} holds the secret {secret:?}");
        assert!(!haystack.contains(&hex::encode(secret)), "{place} holds the secret {secret:?} hex-encoded");
    }
}

/// Every response a test received (status line, headers, body), to search for secrets at the end.
#[derive(Default)]
pub struct Seen(Mutex<String>);

impl Seen {
    pub fn keep(&self, page: Page) -> Page {
        let mut all = self.0.lock().unwrap();
        all.push_str(&format!("{}\n", page.status));
        for (name, value) in &page.headers {
            all.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        all.push_str(&page.body);
        all.push('\n');
        page
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// A value no page, answer, log line or database column may ever show.
pub fn canary(what: &str) -> String {
    let mut buf = [0u8; 10];
    getrandom::fill(&mut buf).unwrap();
    format!("canary-{what}-{}", hex::encode(buf))
}
