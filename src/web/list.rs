//! List pages: the query parameters a Custom Services list carries in its URL, and the pager.

use serde::Deserialize;

use crate::domain::service::AuthType;
use crate::models::service::{ServiceQuery, ServiceSort};

/// Rows per page the lists offer.
pub const PER_PAGE_CHOICES: [i64; 3] = [25, 50, 100];

/// `?q=&auth_type=&sort=&page=&per_page=` as sent; anything unknown falls back to a default.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub auth_type: String,
    #[serde(default)]
    pub sort: String,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl ListParams {
    /// Defaults for missing or invalid values (a bad page number is page 1, not an error).
    pub fn normalised(mut self) -> ListParams {
        self.q = self.q.trim().chars().take(200).collect();
        if AuthType::parse(&self.auth_type).is_none() {
            self.auth_type.clear();
        }
        if ServiceSort::parse(&self.sort).is_none() {
            self.sort = ServiceSort::NameAsc.as_str().to_owned();
        }
        self.page = Some(self.page().to_string());
        self.per_page = Some(self.per_page().to_string());
        self
    }

    pub fn page(&self) -> i64 {
        self.page.as_deref().and_then(|p| p.parse().ok()).filter(|p: &i64| (1..=1_000_000).contains(p)).unwrap_or(1)
    }

    pub fn per_page(&self) -> i64 {
        self.per_page.as_deref().and_then(|p| p.parse().ok()).filter(|p| PER_PAGE_CHOICES.contains(p)).unwrap_or(25)
    }

    pub fn query(&self) -> ServiceQuery {
        ServiceQuery {
            search: self.q.clone(),
            auth_type: AuthType::parse(&self.auth_type),
            sort: ServiceSort::parse(&self.sort).unwrap_or(ServiceSort::NameAsc),
            page: self.page(),
            per_page: self.per_page(),
        }
    }

    /// This list's URL with another page.
    pub fn url_for_page(&self, page: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if !self.auth_type.is_empty() {
            query.append_pair("auth_type", &self.auth_type);
        }
        query.append_pair("sort", &self.sort);
        query.append_pair("page", &page.to_string());
        query.append_pair("per_page", &self.per_page().to_string());
        format!("/admin/services?{}", query.finish())
    }

    /// The URL that sorts by `column` ("name" or "updated"), toggling the direction when already sorted by it.
    pub fn url_for_sort(&self, column: &str) -> String {
        let mut other = self.clone();
        other.sort = toggled_sort(&self.sort, column).to_owned();
        other.url_for_page(1)
    }

    /// `sort-asc`, `sort-desc` or nothing, for a column header.
    pub fn sort_class(&self, column: &str) -> &'static str {
        sort_class(&self.sort, column)
    }

    pub fn aria_sort(&self, column: &str) -> &'static str {
        match self.sort_class(column) {
            "sort-asc" => "ascending",
            "sort-desc" => "descending",
            _ => "none",
        }
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.is_empty() || !self.auth_type.is_empty()
    }
}

/// The sort a column header links to: its own column in the other direction, or a new column in
/// its natural direction (names A–Z, updates newest first). Shared by every list.
pub fn toggled_sort(current: &str, column: &str) -> &'static str {
    match (current, column) {
        ("name", "name") => "-name",
        (_, "name") => "name",
        ("-updated", "updated") => "updated",
        _ => "-updated",
    }
}

/// `sort-asc`, `sort-desc` or nothing, for a column header under the sort `current`.
pub fn sort_class(current: &str, column: &str) -> &'static str {
    match (current, column) {
        ("name", "name") | ("updated", "updated") => "sort-asc",
        ("-name", "name") | ("-updated", "updated") => "sort-desc",
        _ => "",
    }
}

/// Where a list page stands: "26–50 of 312", previous and next links.
#[derive(Debug, Clone)]
pub struct Pager {
    pub total: i64,
    pub first: i64,
    pub last: i64,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    pub per_page: i64,
}

impl Pager {
    pub fn new(params: &ListParams, total: i64, shown: usize) -> Pager {
        let (page, per_page) = (params.page(), params.per_page());
        let first = if shown == 0 { 0 } else { (page - 1) * per_page + 1 };
        let last = if shown == 0 { 0 } else { first + shown as i64 - 1 };
        Pager {
            total,
            first,
            last,
            prev_url: (page > 1).then(|| params.url_for_page(page - 1)),
            next_url: (page * per_page < total).then(|| params.url_for_page(page + 1)),
            per_page,
        }
    }

    pub fn per_page_choices(&self) -> [i64; 3] {
        PER_PAGE_CHOICES
    }
}
