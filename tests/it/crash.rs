//! A process killed mid-refresh (`kill -9` of the real binary while the provider has not answered):
//! at the next start the instance releases the lease its previous run held, and the still-valid
//! token is served at once.

use connections::clock::Clock;
use connections::db::schema::connections as table;
use diesel::prelude::*;

use crate::support::{Api, Behaviour, Setup, TEST_KEYS, TestDb, eventually, me, serve, setup_with};

/// The row's lease: (holder, until).
fn lease(db: &TestDb) -> (Option<String>, Option<i64>) {
    let mut conn = connections::db::Db::connect(&db.url, 1).unwrap().get().unwrap();
    table::table.select((table::lease_holder, table::lease_until)).first(&mut *conn).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn a_restarted_instance_releases_the_lease_its_killed_run_held_and_serves_the_valid_token() {
    // Connected through the consent 200 s ago on the wall clock the binary will use, for 300 s: past
    // half its life, so the binary refreshes it, and still valid for 100 s.
    let behaviour = Behaviour { expires_in: 300, ..Behaviour::default() };
    let Setup { app, fake, .. } =
        setup_with(|config| config.clock = Clock::manual(now() - 200), behaviour, |_| {}).await;
    let token = app.token_for("admin").await;
    let first = fake.issued("access")[0].clone();
    let db = app.stop().await;

    // The binary refreshes within its margin; the provider never answers, and the process is killed.
    let env = [
        ("CONNECTIONS_ENCRYPTION_KEYS", TEST_KEYS),
        ("CONNECTIONS_OUTBOUND_ALLOW_CIDRS", "127.0.0.1/32"),
        ("CONNECTIONS_OUTBOUND_ALLOW_HTTP", "true"),
        ("CONNECTIONS_REFRESH_MARGIN_SECS", "600"),
        ("CONNECTIONS_REFRESH_INTERVAL_SECS", "0"),
    ];
    // The protected API's `/me`, through the binary at `url`.
    let me_at = async |url: &str| me(&Api::at(url, &token)).await.json();
    let url_of = |lines: &[String]| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix("Connections is running at "))
            .unwrap()
            .trim_end_matches('/')
            .to_owned()
    };
    fake.set(|b| b.token_delay_ms = 120_000);
    let (mut child, lines) = serve(&db, &env);
    let answer = me_at(&url_of(&lines)).await;
    assert_eq!(answer["status"], 200, "the valid token served while the refresh waits: {answer}");
    eventually("the refresh to reach the provider", async || fake.grants("refresh_token").len() == 1).await;
    let (holder, until) = lease(&db);
    assert!(holder.is_some() && until.is_some_and(|u| u > now()), "the killed run holds the lease");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, lines) = serve(&db, &env);
    assert_eq!(lease(&db), (None, None), "released at start, not when it runs out");
    let calls = fake.api_calls().len();
    let answer = me_at(&url_of(&lines)).await;
    assert_eq!(answer["status"], 200, "{answer}");
    let call = fake.api_calls()[calls].clone();
    assert_eq!(
        (call.token.as_deref(), call.accepted),
        (Some(first.as_str()), true),
        "the stored token, still valid"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
