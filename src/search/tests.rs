use super::*;

fn snapshot(rows: &[(i64, i64, &str, &str)]) -> Snapshot {
    Snapshot::new(7, rows.iter().map(|(id, owner, name, link)| (*id, *owner, name.to_string(), link.to_string())).collect(), true)
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
    let s = snapshot(&[(1, 1, "oho zoh", "a_1"), (2, 2, "zoho", "a_2"), (3, 1, "zohozoho", "a_3"), (4, 1, "ärger über", "a_4")]);
    assert_eq!(s.search(query("zoho")).ids, [2, 3], "holding both grams apart is not a match");
    assert_eq!(s.search(NameQuery { owner_id: Some(1), ..query("zoho") }).ids, [3]);
    assert_eq!(s.search(query("über")).ids, [4]);
    assert_eq!(s.search(query("xyz")), Found { ids: vec![], total: Total { n: 0, at_least: false } });
}

#[test]
fn counts_up_to_the_cap_and_still_finds_pages_past_it() {
    let cap = COUNT_CAP as usize;
    let rows: Vec<(i64, i64, String, String)> = (0..cap + 10).map(|i| (i as i64, 1, format!("name {i:05}"), format!("n_{i}"))).collect();
    let s = Snapshot::new(1, rows, true);
    let first = s.search(query("name"));
    assert_eq!(first.total, Total { n: COUNT_CAP, at_least: true });
    assert_eq!(first.ids, (0..25).collect::<Vec<i64>>());
    let last = s.search(NameQuery { offset: cap, limit: 25, ..query("name") });
    assert_eq!(last.ids, (cap as i64..cap as i64 + 10).collect::<Vec<i64>>());
    let exact = Snapshot::new(1, (0..cap).map(|i| (i as i64, 1, format!("name {i:05}"), format!("n_{i}"))).collect(), true);
    assert_eq!(exact.search(query("name")).total, Total { n: COUNT_CAP, at_least: false });
}
