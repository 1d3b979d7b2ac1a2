use super::postings::{Backward, Forward, List, encoded_len, write};
use super::*;

fn columns<N: AsRef<str>, L: AsRef<str>>(rows: impl IntoIterator<Item = (i64, i64, N, L)>) -> Columns {
    let mut columns = Columns::default();
    for (id, owner, name, link) in rows {
        columns.push(id, owner, name.as_ref(), link.as_ref());
    }
    columns
}

fn snapshot(rows: &[(i64, i64, &str, &str)]) -> Snapshot {
    Snapshot::new(7, columns(rows.iter().copied()), true)
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
    let rows = (0..cap + 10).map(|i| (i as i64, 1, format!("name {i:05}"), format!("n_{i}")));
    let s = Snapshot::new(1, columns(rows), true);
    let first = s.search(query("name"));
    assert_eq!(first.total, Total { n: COUNT_CAP, at_least: true });
    assert_eq!(first.ids, (0..25).collect::<Vec<i64>>());
    let last = s.search(NameQuery { offset: cap, limit: 25, ..query("name") });
    assert_eq!(last.ids, (cap as i64..cap as i64 + 10).collect::<Vec<i64>>());
    let exact = Snapshot::new(
        1,
        columns((0..cap).map(|i| (i as i64, 1, format!("name {i:05}"), format!("n_{i}")))),
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
    let loaded = index.shared.current().map(|s| s.version);

    // A status change, as a connect or a refresh makes, keeps the index.
    execute(&mut conn, "UPDATE connections SET status = 'connected', updated_at = 5 WHERE id = 1");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1]));
    assert_eq!(index.shared.current().map(|s| s.version), loaded);

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
    let remembered = index.shared.current().unwrap();
    assert!(
        !remembered.complete && remembered.ids.is_empty(),
        "it keeps no names, only that there were too many"
    );
    assert_eq!(found(&index, &mut conn, "zoho"), None);
    assert!(Arc::ptr_eq(&remembered, &index.shared.current().unwrap()), "and does not read them all again");
    execute(&mut conn, "DELETE FROM connections WHERE id = 3");
    assert_eq!(found(&index, &mut conn, "zoho"), Some(vec![1, 2]));
}

#[test]
fn a_load_reads_every_connection_chunk_by_chunk_across_gaps_in_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database(&dir);
    for i in 1..=7 {
        add(&mut conn, &format!("c_{i}"), &format!("Zoho {i}"));
    }
    execute(&mut conn, "DELETE FROM connections WHERE id IN (3, 4)");
    let version = super::version(&mut conn).unwrap();
    let loaded = super::load(&mut conn, version, 10, 2).unwrap();
    let mut ids = loaded.ids.clone();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2, 5, 6, 7]);
    assert!(loaded.complete);
    let over = super::load(&mut conn, version, 4, 2).unwrap();
    assert!(!over.complete && over.ids.is_empty(), "five connections are over a limit of four");
    let exact = super::load(&mut conn, version, 5, 5).unwrap();
    assert!(exact.complete && exact.ids.len() == 5, "a last chunk that is full ends with an empty one");
}

#[test]
fn packed_lists_read_back_the_same_both_ways_whatever_the_gaps() {
    // Gaps at every boundary of the byte counts, from one byte to five.
    let gaps = [1u32, 127, 128, 1, 16_383, 16_384, 2_097_151, 2_097_152, 1, 268_435_455, 268_435_456, 3];
    let len: u32 = gaps.iter().map(|g| encoded_len(*g)).sum();
    let mut bytes = vec![0; len as usize];
    let (mut at, mut end, mut positions) = (0, 0u32, Vec::new());
    for gap in gaps {
        at += write(&mut bytes, at as usize, gap);
        end += gap;
        positions.push(end - 1);
    }
    assert_eq!(at, len, "each gap takes the bytes encoded_len said");
    assert_eq!(Forward::new(&bytes).collect::<Vec<u32>>(), positions);
    positions.reverse();
    assert_eq!(Backward::new(&bytes, end).collect::<Vec<u32>>(), positions);
    let _ = List::default();
}

#[test]
fn a_search_finds_what_reading_every_name_finds_in_either_order_and_on_any_page() {
    // Names from a few words, so that grams repeat across names and within one (packed lists with
    // gaps of every size), ids not in name order, several owners.
    let words = ["zoho", "desk", "hoho", "sync", "oho", "zo", "ticket", "prod", "ab"];
    let mut seed = 7u64;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    let rows: Vec<(i64, i64, String, String)> = (0..3000)
        .map(|i| {
            let name = (0..1 + next(4)).map(|_| words[next(words.len())]).collect::<Vec<_>>().join(" ");
            let link = format!("{}_{i}", words[next(words.len())]);
            ((i * 7919 % 3001) as i64, next(3) as i64, name, link)
        })
        .collect();
    let s = Snapshot::new(1, columns(rows.iter().map(|(i, o, n, l)| (*i, *o, n.as_str(), l.as_str()))), true);
    let mut sorted = rows.clone();
    sorted.sort_by(|a, b| (&a.2, a.0).cmp(&(&b.2, b.0)));
    for needle in ["zoho", "oho", "ho ", "desk sync", "ticket_1", "_12", "zzz", "sync zoho prod"] {
        for (owner_id, descending, offset) in
            [(None, false, 0), (None, true, 0), (Some(1), false, 25), (Some(2), true, 990)]
        {
            let mut expected: Vec<i64> = sorted
                .iter()
                .filter(|r| {
                    owner_id.is_none_or(|o| o == r.1) && (r.2.contains(needle) || r.3.contains(needle))
                })
                .map(|r| r.0)
                .collect();
            if descending {
                expected.reverse();
            }
            let total = expected.len();
            let page: Vec<i64> = expected.into_iter().skip(offset).take(25).collect();
            let found = s.search(NameQuery { needle, owner_id, descending, offset, limit: 25 });
            assert_eq!(found.ids, page, "{needle:?} {owner_id:?} descending {descending} from {offset}");
            let want = if total > COUNT_CAP as usize {
                Total { n: COUNT_CAP, at_least: true }
            } else {
                Total { n: total as i64, at_least: false }
            };
            assert_eq!(found.total, want, "{needle:?} {owner_id:?}");
        }
    }
}

#[test]
fn an_index_with_the_database_loads_on_a_thread_of_its_own_while_the_database_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::db::Db::connect(&format!("sqlite://{}", dir.path().join("connections.db").display()), 2)
        .unwrap();
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    execute(&mut conn, "PRAGMA foreign_keys = OFF");
    add(&mut conn, "first", "Zoho Desk");
    let index = NameIndex::new(db.clone());
    // Until a snapshot of the current version is in, every search is the database's.
    let eventually = |index: &NameIndex, conn: &mut DbConn, want: Vec<i64>| {
        for _ in 0..500 {
            match found(index, conn, "zoho") {
                Some(ids) => return assert_eq!(ids, want),
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        panic!("the index never loaded");
    };
    assert_eq!(found(&index, &mut conn, "zoho"), None, "the first search does not wait for the load");
    eventually(&index, &mut conn, vec![1]);
    add(&mut conn, "second", "Zoho Books");
    assert_eq!(found(&index, &mut conn, "zoho"), None, "a stale index is not used");
    eventually(&index, &mut conn, vec![2, 1]);
}
