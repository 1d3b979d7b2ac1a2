use super::*;

fn params(query: &str) -> ListParams {
    serde_urlencoded::from_str::<ListParams>(query).unwrap().normalised()
}

#[test]
fn unknown_values_fall_back_to_the_defaults() {
    let p = params("status=bogus&auth_type=x&sort=sideways&page=0&per_page=7&owner=someone");
    assert_eq!(
        (p.status.as_str(), p.auth_type.as_str(), p.sort.as_str(), p.owner.as_str()),
        ("", "", "name", "me")
    );
    assert_eq!((p.page(), p.per_page()), (1, 25));
    assert!(!p.is_filtered());
}

#[test]
fn a_page_link_keeps_the_filters_and_drops_empty_ones() {
    let p = params("q=zoho desk&status=connected&owner=any&sort=-updated&page=3&per_page=50");
    assert_eq!(
        p.url_for_page("/admin/connections", 4),
        "/admin/connections?q=zoho+desk&status=connected&owner=any&sort=-updated&page=4&per_page=50"
    );
    assert_eq!(params("").url_for_page("/admin/services", 2), "/admin/services?sort=name&page=2&per_page=25");
}

#[test]
fn a_column_header_toggles_its_own_sort_and_starts_others_in_their_natural_direction() {
    let by_name = params("sort=name");
    assert!(by_name.url_for_sort("/l", "name").contains("sort=-name"));
    assert!(by_name.url_for_sort("/l", "updated").contains("sort=-updated"));
    assert!(params("sort=-updated").url_for_sort("/l", "updated").contains("sort=updated"));
    assert_eq!(
        (by_name.sort_class("name"), by_name.aria_sort("name"), by_name.sort_class("updated")),
        ("sort-asc", "ascending", "")
    );
}

#[test]
fn the_pager_counts_from_one_and_offers_a_next_page_past_a_capped_total() {
    let p = params("page=2&per_page=25");
    let pager = Pager::new(&p, "/l", "#r", Total { n: 60, at_least: false }, 25);
    assert_eq!((pager.first, pager.last), (26, 50));
    assert!(pager.prev_url.is_some() && pager.next_url.is_some());
    let last = Pager::new(&params("page=3"), "/l", "#r", Total { n: 60, at_least: false }, 10);
    assert!(last.next_url.is_none());
    let capped = Pager::new(&params("page=40"), "/l", "#r", Total { n: 1000, at_least: true }, 25);
    assert!(capped.next_url.is_some(), "1,000+: there may be more");
    let empty = Pager::new(&params(""), "/l", "#r", Total { n: 0, at_least: false }, 0);
    assert_eq!((empty.first, empty.last), (0, 0));
}
