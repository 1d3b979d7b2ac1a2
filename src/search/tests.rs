use super::*;

fn snapshot(rows: &[(i64, i64, &str, &str)]) -> Snapshot {
    Snapshot::new(
        7,
        rows.iter()
            .map(|(id, owner, name, link)| (*id, *owner, name.to_string(), link.to_string()))
            .collect(),
        true,
    )
}

fn query(needle: &str) -> NameQuery<'_> {
    NameQuery { needle, owner_id: None, descending: false, offset: 0, limit: 25 }
}

#[test]
fn matches_come_in_name_order_then_id_from_names_and_link_names() {
    let s = snapshot(&[
        (5, 1, "zoho desk", "zoho_desk"),
        (2, 1, "alpha zoho", "alpha"),
        (9, 1, "alpha zoho", "alpha_2"),
        (3, 1, "beta", "beta_zoho_link"),
        (4, 1, "gamma", "gamma"),
    ]);
    let found = s.search(query("zoho"));
    assert_eq!(found.ids, [2, 9, 3, 5]);
    assert_eq!(found.total, Total { n: 4, at_least: false });
    assert_eq!(s.search(NameQuery { descending: true, ..query("zoho") }).ids, [5, 3, 9, 2]);
    assert_eq!(s.search(NameQuery { offset: 1, limit: 2, ..query("zoho") }).ids, [9, 3]);
}

#[test]
fn every_gram_must_match_in_sequence_and_the_owner_filters() {
    let s = snapshot(&[
        (1, 1, "oho zoh", "a_1"),
        (2, 2, "zoho", "a_2"),
        (3, 1, "zohozoho", "a_3"),
        (4, 1, "ärger über", "a_4"),
    ]);
    assert_eq!(s.search(query("zoho")).ids, [2, 3], "holding both grams apart is not a match");
    assert_eq!(s.search(NameQuery { owner_id: Some(1), ..query("zoho") }).ids, [3]);
    assert_eq!(s.search(query("über")).ids, [4]);
    assert_eq!(s.search(query("xyz")), Found { ids: vec![], total: Total { n: 0, at_least: false } });
}

#[test]
fn counts_up_to_the_cap_and_still_finds_pages_past_it() {
    let cap = COUNT_CAP as usize;
    let rows: Vec<(i64, i64, String, String)> =
        (0..cap + 10).map(|i| (i as i64, 1, format!("name {i:05}"), format!("n_{i}"))).collect();
    let s = Snapshot::new(1, rows, true);
    let first = s.search(query("name"));
    assert_eq!(first.total, Total { n: COUNT_CAP, at_least: true });
    assert_eq!(first.ids, (0..25).collect::<Vec<i64>>());
    let last = s.search(NameQuery { offset: cap, limit: 25, ..query("name") });
    assert_eq!(last.ids, (cap as i64..cap as i64 + 10).collect::<Vec<i64>>());
    let exact = Snapshot::new(
        1,
        (0..cap).map(|i| (i as i64, 1, format!("name {i:05}"), format!("n_{i}"))).collect(),
        true,
    );
    assert_eq!(exact.search(query("name")).total, Total { n: COUNT_CAP, at_least: false });
}

/// A connection to a migrated SQLite database whose connections need no user or service (foreign
/// keys off for it).
fn database(dir: &tempfile::TempDir) -> crate::db::Conn {
    let db = crate::db::Db::connect(&format!("sqlite://{}", dir.path().join("connections.db").display()), 2)
        .unwrap();
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    execute(&mut conn, "PRAGMA foreign_keys = OFF");
    conn
}

fn execute(conn: &mut DbConn, sql: &str) {
    diesel::RunQueryDsl::execute(diesel::sql_query(sql), conn).unwrap();
}

fn add(conn: &mut DbConn, link: &str, name: &str) {
    execute(
        conn,
        &format!(
            "INSERT INTO connections (link_name, name, name_lower, service_id, owner_id, scopes_requested, \
             status, created_at, updated_at) \
             VALUES ('{link}', '{name}', '{}', 1, 1, '[]', 'not_connected', 0, 0)",
            name.to_lowercase()
        ),
    );
}

fn found(index: &NameIndex, conn: &mut DbConn, needle: &str) -> Option<Vec<i64>> {
    index.search(conn, query(needle)).unwrap().map(|f| f.ids)
}

#[test]
fn every_change_to_a_name_is_searched_at_once_and_nothing_else_reloads_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    let index = NameIndex::default();
    add(&mut conn, "first", "Zoho Desk");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1]));
    let loaded = index.current.read().unwrap().as_ref().map(|s| s.version);

    // A status change, as a connect or a refresh makes, keeps the index.
    execute(&mut conn, "UPDATE connections SET status = 'connected', updated_at = 5 WHERE id = 1");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1]));
    assert_eq!(index.current.read().unwrap().as_ref().map(|s| s.version), loaded);

    add(&mut conn, "second", "Zoho Books");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![2, 1]));
    execute(&mut conn, "UPDATE connections SET name = 'Acme', name_lower = 'acme' WHERE id = 2");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1]));
    assert_eq!(found(&index, &mut conn, "acme"), Some(vec![2]));
    execute(&mut conn, "DELETE FROM connections WHERE id = 1");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![]));
    assert_eq!(found(&index, &mut conn, "zo"), None, "under three bytes, the database answers");
}

#[test]
fn above_its_limit_the_index_gives_way_to_the_database_until_the_names_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    let index = NameIndex::with_max_entries(2);
    add(&mut conn, "a_1", "Zoho One");
    add(&mut conn, "a_2", "Zoho Two");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1, 2]));
    add(&mut conn, "a_3", "Zoho Three");
    assert_eq!(found(&index, &mut conn, "zoho"), None);
    let remembered = index.current.read().unwrap().clone().unwrap();
    assert!(
        !remembered.complete && remembered.ids.is_empty(),
        "it keeps no names, only that there were too many"
    );
    assert_eq!(found(&index, &mut conn, "zoho"), None);
    assert!(
        Arc::ptr_eq(&remembered, &index.current.read().unwrap().clone().unwrap()),
        "and does not read them all again"
    );
    execute(&mut conn, "DELETE FROM connections WHERE id = 3");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1, 2]));
}
