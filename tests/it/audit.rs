//! The audit log as an admin reads it: every sign-in, failure and lock-out with the typed name and
//! the client address; Admin > Audit Log's filters and cursor pages; each object's history; the
//! retention prune, itself recorded; and no way to change an entry.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::Method;
use connections::models::audit::{self, AuditEntry, By};
use connections::models::user::{LOCKOUT_SECS, MAX_FAILED_LOGINS, Role};
use connections::routes::routes;
use diesel::prelude::*;

use crate::support::{
    Api, Browser, Page, T0, TestApp, TestDb, api_key_service, command, connection, keys_ok, text_of,
    with_key_file,
};

/// Every entry, oldest first.
async fn entries(app: &TestApp) -> Vec<AuditEntry> {
    use connections::db::schema::audit_log;
    app.state
        .db
        .run(|c| Ok(audit_log::table.order(audit_log::id).select(AuditEntry::as_select()).load(c)?))
        .await
        .unwrap()
}

/// Entries written straight through the model: `n` events by `actor` on service `target`, one
/// second apart from `at` on.
async fn seed(app: &TestApp, actor: &str, action: &str, target: &str, n: usize, at: i64) {
    let (actor, action, target) = (actor.to_owned(), action.to_owned(), target.to_owned());
    app.state
        .db
        .run(move |c| {
            for i in 0..n {
                let by = By { actor_id: None, actor: &actor, source: Some("127.0.0.1") };
                let details = serde_json::json!({ "n": i });
                audit::record(c, by.event(&action, "service", &target, details), at + i as i64)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// The ids of the rows a page of the log shows, top to bottom.
fn ids(page: &Page) -> Vec<i64> {
    page.body
        .split("<tr data-id=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The href of a pager link (`rel="prev"` or `rel="next"`), unescaped.
fn pager_link(page: &Page, rel: &str) -> Option<String> {
    let at = page.body.find(&format!("rel=\"{rel}\""))?;
    let tag_start = page.body[..at].rfind("<a ")?;
    let href = page.body[tag_start..].split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[tokio::test]
async fn sign_ins_failures_and_a_lock_out_are_recorded_with_the_typed_name_and_the_client_address() {
    let app = TestApp::spawn().await;
    app.add_user("dana", Role::SdAdmin, "dana-password-long").await;
    let attacker = app.browser_from(loopback(7));
    let typed_password = "typed-password-canary-3f9a";
    for _ in 0..MAX_FAILED_LOGINS {
        assert_eq!(attacker.sign_in("dana", typed_password).await.status, 401);
    }
    assert_eq!(attacker.sign_in("nobody-here", typed_password).await.status, 401);
    // Locked now: the right password is refused too, and recorded as such.
    assert_eq!(app.browser_from(loopback(8)).sign_in("dana", "dana-password-long").await.status, 401);
    app.clock.advance(LOCKOUT_SECS + 1);
    let dana = app.browser_from(loopback(9));
    assert_eq!(dana.sign_in("dana", "dana-password-long").await.status, 303);
    let token = dana.get("/admin/connections").await.csrf();
    assert_eq!(dana.post("/logout", &[("csrf_token", &token)]).await.status, 303);

    let rows = entries(&app).await;
    let seen: Vec<(&str, &str, Option<&str>, &str)> = rows
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.source.as_deref(), e.target.as_str()))
        .collect();
    let failed = ("auth.sign_in_failed", "dana", Some("127.0.0.7"), "dana");
    let mut expected = vec![failed; MAX_FAILED_LOGINS as usize];
    expected.extend([
        ("auth.locked", "dana", Some("127.0.0.7"), "dana"),
        ("auth.sign_in_failed", "nobody-here", Some("127.0.0.7"), "nobody-here"),
        ("auth.sign_in_failed", "dana", Some("127.0.0.8"), "dana"),
        ("auth.sign_in", "dana", Some("127.0.0.9"), "dana"),
        ("auth.sign_out", "dana", Some("127.0.0.9"), "dana"),
    ]);
    assert_eq!(seen, expected);
    let reasons: Vec<String> = rows.iter().map(|e| connections::ops::audit::summary(&e.details)).collect();
    assert_eq!(reasons[0], "reason: wrong password");
    assert!(
        reasons[5].contains("failed_attempts: 5") && reasons[5].contains("locked_until"),
        "{}",
        reasons[5]
    );
    assert_eq!(reasons[6], "reason: unknown user");
    assert_eq!(reasons[7], "reason: account locked");
    assert!(rows[8].actor_id.is_some() && rows[0].actor_id.is_none(), "only a sign-in proves who it was");
    assert!(rows.iter().all(|e| !e.details.contains(typed_password) && !e.actor.contains(typed_password)));
    assert!(rows.iter().all(|e| e.at >= T0));

    // The admin sees them on the page, filtered to one actor.
    let admin = app.admin().await;
    let page = admin.get("/admin/audit?actor=dana&action=auth.locked").await;
    assert_eq!(page.status, 200);
    let text = text_of(&page);
    assert!(text.contains("auth.locked") && text.contains("127.0.0.7"), "{text}");
    assert_eq!(ids(&page), [rows[5].id]);
}

#[tokio::test]
async fn the_page_filters_by_actor_action_object_and_day_and_pages_newest_first_with_cursors() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await; // one sign-in entry, at T0
    let day = 86_400;
    seed(&app, "alice", "service.update", "desk", 60, T0 + day).await;
    seed(&app, "bob", "service.delete", "crm", 3, T0 + 3 * day).await;
    let all = entries(&app).await;
    assert_eq!(all.len(), 64);

    // Newest first, 25 a page; older and newer links walk the pages and come back.
    let first = admin.get("/admin/audit?limit=25").await;
    assert_eq!(first.status, 200);
    let newest: Vec<i64> = all.iter().rev().map(|e| e.id).collect();
    assert_eq!(ids(&first), newest[..25]);
    assert!(pager_link(&first, "prev").is_none(), "the newest page has no newer one");
    let second = admin.get(&pager_link(&first, "next").unwrap()).await;
    assert_eq!(ids(&second), newest[25..50]);
    let third = admin.get(&pager_link(&second, "next").unwrap()).await;
    assert_eq!(ids(&third), newest[50..]);
    assert!(pager_link(&third, "next").is_none(), "the oldest page has no older one");
    let back = admin.get(&pager_link(&third, "prev").unwrap()).await;
    assert_eq!(ids(&back), newest[25..50]);
    let back = admin.get(&pager_link(&back, "prev").unwrap()).await;
    assert_eq!(ids(&back), newest[..25]);
    assert!(pager_link(&back, "prev").is_none());

    // An htmx request gets the results only, and the links keep the filters.
    let http = admin.http.get(format!("{}/admin/audit?actor=alice&limit=25", app.base));
    let fragment = admin.send(http.header("hx-request", "true").header("hx-target", "audit-results")).await;
    assert_eq!(fragment.status, 200);
    assert!(!fragment.body.contains("<html") && fragment.body.contains("id=\"audit-table\""));
    assert!(pager_link(&fragment, "next").unwrap().contains("actor=alice"));

    // Filters: actor, action, object (type and name), days.
    let only = |query: &'static str| {
        let admin = &admin;
        async move { ids(&admin.get(&format!("/admin/audit?limit=100&{query}")).await) }
    };
    let of = |pick: &dyn Fn(&AuditEntry) -> bool| -> Vec<i64> {
        all.iter().rev().filter(|e| pick(e)).map(|e| e.id).collect()
    };
    assert_eq!(only("actor=bob").await, of(&|e| e.actor == "bob"));
    assert_eq!(only("action=service.update").await, of(&|e| e.action == "service.update"));
    assert_eq!(only("object_type=service&object=crm").await, of(&|e| e.target == "crm"));
    assert_eq!(only("object_type=user").await, of(&|e| e.action == "auth.sign_in"));
    assert_eq!(only("actor=alice&object=crm").await, Vec::<i64>::new());
    // T0 is 2026-09-21 14:13:20 UTC (the sign-in): alice's entries fall on the 22nd, bob's on the 24th.
    assert_eq!(only("from=2026-09-23").await, of(&|e| e.actor == "bob"));
    assert_eq!(only("to=2026-09-22").await, of(&|e| e.actor != "bob"));
    assert_eq!(only("from=2026-09-22&to=2026-09-22").await, of(&|e| e.actor == "alice"));
    let filtered = admin.get("/admin/audit?actor=nobody").await;
    assert!(text_of(&filtered).contains("No entries match"), "{}", text_of(&filtered));

    // What cannot be read is said, not ignored.
    for (query, says) in [
        ("from=2026-02-30", "YYYY-MM-DD"),
        ("to=yesterday", "YYYY-MM-DD"),
        ("cursor=not-a-cursor", "cursor"),
        ("object_type=planet", "object_type"),
    ] {
        let page = admin.get(&format!("/admin/audit?{query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(text_of(&page).contains(says), "{query}: {}", text_of(&page));
        assert!(ids(&page).is_empty());
    }
}

#[tokio::test]
async fn a_service_and_a_connection_link_to_their_history_which_shows_what_changed_from_where() {
    let app = TestApp::spawn().await;
    let (admin, api) = (app.admin().await, Api::admin(&app).await);
    api.create("/api/v1/services", &api_key_service("desk")).await;
    api.create("/api/v1/services", &api_key_service("other")).await;
    api.patch("/api/v1/services/desk", &serde_json::json!({ "name": "Help Desk" })).await;
    api.create("/api/v1/connections", &connection("desk", "desk_main", &[])).await;
    let res = api.patch("/api/v1/connections/desk_main", &serde_json::json!({ "name": "Main desk" })).await;
    assert_eq!(res.status, 200, "{}", res.body);

    let service = admin.get("/admin/services/desk").await;
    assert!(service.body.contains("href=\"/admin/audit?object_type=service&amp;object=desk\""));
    let history = admin.get("/admin/audit?object_type=service&object=desk").await;
    let text = text_of(&history);
    assert_eq!(ids(&history).len(), 2, "create and update: {text}");
    assert!(text.contains("name: Service desk → Help Desk"), "{text}");
    assert!(text.contains("127.0.0.1"), "the source address: {text}");
    assert!(!text.contains("Service other"), "{text}");

    let details = admin.get("/admin/connections/desk_main").await;
    let link = "/admin/audit?object_type=connection&amp;object=desk_main";
    assert!(details.body.contains(&format!("href=\"{link}\"")));
    let history = admin.get(&link.replace("&amp;", "&")).await;
    let text = text_of(&history);
    assert_eq!(ids(&history).len(), 2, "{text}");
    assert!(
        text.contains("connection.update") && text.contains("name: Connection desk_main → Main desk"),
        "{text}"
    );
    assert!(history.body.contains("href=\"/admin/connections/desk_main\""), "the object links to its page");
}

#[tokio::test]
async fn no_route_changes_or_deletes_an_entry_and_the_database_refuses_it_too() {
    let audit_routes: Vec<_> = routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/admin/audit") || r.path.starts_with("/api/v1/audit"))
        .collect();
    assert_eq!(audit_routes.len(), 4, "the page, two exports and the API");
    for route in &audit_routes {
        assert_eq!(route.method, Method::GET, "{} {}", route.method, route.path);
    }

    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let token = admin.get("/admin/audit").await.csrf();
    for method in
        [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE]
    {
        for path in ["/admin/audit", "/admin/audit/export.csv", "/api/v1/audit"] {
            let res = admin.request(method.clone(), path, &[("csrf_token", &token)]).await;
            assert_eq!(res.status, 405, "{method} {path}");
        }
    }
    use connections::db::schema::audit_log;
    let update = app
        .state
        .db
        .run(|c| Ok(diesel::update(audit_log::table).set(audit_log::actor.eq("someone else")).execute(c)?))
        .await;
    assert!(update.is_err(), "an UPDATE is refused");
    let delete = app.state.db.run(|c| Ok(diesel::delete(audit_log::table).execute(c)?)).await;
    assert!(delete.is_err(), "a DELETE outside the prune is refused");
    let rows = entries(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "admin");
}

async fn save_retention(admin: &Browser, days: &str) -> Page {
    admin.submit("/admin/settings/portal", "/admin/settings/retention", &[("retention_days", days)]).await
}

#[tokio::test]
async fn retention_removes_entries_past_it_and_records_the_change_and_each_prune() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let prune = |app: &TestApp| {
        let (db, now) = (app.state.db.clone(), app.clock.now());
        async move { db.run(move |c| connections::ops::audit::retention::prune(c, now)).await.unwrap() }
    };
    seed(&app, "alice", "service.update", "desk", 3, T0 - 400 * 86_400).await;
    assert_eq!(prune(&app).await, 0, "kept for ever by default");
    assert_eq!(entries(&app).await.len(), 4);

    for bad in ["0", "-3", "ten", "1.5", "36501"] {
        let res = save_retention(&admin, bad).await;
        assert_eq!(res.status, 422, "{bad}");
        assert!(text_of(&res).contains("whole number of days"), "{bad}");
    }
    assert_eq!(save_retention(&admin, "30").await.status, 303);
    let page = admin.get("/admin/settings/portal").await;
    assert!(page.body.contains("name=\"retention_days\" value=\"30\""), "the form shows it");
    let change = entries(&app).await.pop().unwrap();
    assert_eq!((change.action.as_str(), change.target.as_str()), ("settings.update", "audit_retention_days"));
    assert_eq!(connections::ops::audit::summary(&change.details), "audit_retention_days: — → 30");
    assert_eq!(change.source.as_deref(), Some("127.0.0.1"));

    // The seeded entries are 400 days old; the sign-in and the setting's change are new.
    assert_eq!(prune(&app).await, 3);
    let left = entries(&app).await;
    let actions: Vec<&str> = left.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["auth.sign_in", "settings.update", "audit.pruned"]);
    let pruned = &left[2];
    assert_eq!((pruned.actor.as_str(), pruned.source.as_deref()), ("system", None));
    let details: serde_json::Value = serde_json::from_str(&pruned.details).unwrap();
    assert_eq!((details["count"].as_i64(), details["retention_days"].as_i64()), (Some(3), Some(30)));
    assert_eq!(prune(&app).await, 0, "nothing more to remove, and nothing recorded");
    assert_eq!(entries(&app).await.len(), 3);
    let page = admin.get("/admin/audit?action=audit.pruned").await;
    assert!(text_of(&page).contains("count: 3"), "{}", text_of(&page));
    // 31 days on, the sign-in and the change go, and the record of the first prune.
    app.clock.advance(31 * 86_400);
    assert_eq!(prune(&app).await, 3);
    let actions: Vec<String> = entries(&app).await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["audit.pruned"]);

    // Blank keeps everything again (a new session: the other one has expired).
    let admin = app.admin().await;
    assert_eq!(save_retention(&admin, "").await.status, 303);
    app.clock.advance(100 * 86_400);
    assert_eq!(prune(&app).await, 0);
    assert_eq!(entries(&app).await.len(), 3, "the first prune's record, the sign-in and the change to blank");
}

/// Runs the binary on `db` with `stdin`, and insists that it succeeds; returns what it printed.
fn cli(db: &TestDb, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn changes_made_at_the_command_line_are_recorded_as_the_cli() {
    let db = TestApp::spawn_with(with_key_file).await.stop().await;
    cli(&db, &["user", "add", "ops", "--role", "sdadmin"], "ops-password-123\n");
    cli(&db, &["user", "set-role", "ops", "technician"], "");
    cli(&db, &["user", "disable", "ops"], "");
    cli(&db, &["user", "enable", "ops"], "");
    let secret_password = "new-ops-password-canary";
    cli(&db, &["user", "passwd", "ops"], &format!("{secret_password}\n"));
    let printed = cli(&db, &["token", "create", "ops", "--label", "nightly"], "");
    let token = printed.lines().find(|l| l.starts_with("cn_")).unwrap().to_owned();
    let id = printed.split_whitespace().nth(2).unwrap().to_owned();
    cli(&db, &["token", "revoke", &id], "");
    keys_ok(&db, &["rotate"]);
    keys_ok(&db, &["rewrap"]);
    keys_ok(&db, &["retire", "k1"]);

    let app = TestApp::spawn_on(db, with_key_file).await;
    let rows: Vec<AuditEntry> = entries(&app).await.into_iter().filter(|e| e.actor == "cli").collect();
    let seen: Vec<(&str, &str, &str)> =
        rows.iter().map(|e| (e.action.as_str(), e.target_type.as_str(), e.target.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("user.create", "user", "ops"),
            ("user.update", "user", "ops"),
            ("user.disable", "user", "ops"),
            ("user.enable", "user", "ops"),
            ("user.password", "user", "ops"),
            ("token.create", "api_token", id.as_str()),
            ("token.revoke", "api_token", id.as_str()),
            ("key.rotate", "encryption_key", "k2"),
            ("key.rewrap", "encryption_key", "k2"),
            ("key.retire", "encryption_key", "k1"),
        ]
    );
    assert!(rows.iter().all(|e| e.source.is_none() && e.actor_id.is_none()));
    assert_eq!(connections::ops::audit::summary(&rows[1].details), "role: sdadmin → technician");
    for e in &rows {
        assert!(!e.details.contains(secret_password) && !e.details.contains(&token), "{e:?}");
    }
    let admin = app.admin().await;
    let page = admin.get("/admin/audit?actor=cli&object_type=encryption_key").await;
    assert_eq!(ids(&page).len(), 3, "{}", text_of(&page));
}
