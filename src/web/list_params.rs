//! What a list page carries in its URL (`?q=&service=&status=&auth_type=&owner=&sort=&page=&per_page=`)
//! and the pager under it, shared by the services and connections lists. Anything unknown falls back to
//! its default: a bad page number is page 1, not an error.

use serde::Deserialize;

use crate::domain::connection::Status;
use crate::domain::service::AuthType;
use crate::lists::connections::{ATTENTION, ConnectionQuery};
use crate::lists::services::ServiceQuery;
use crate::lists::{Sort, Total, Window};

/// Rows per page the lists offer.
pub const PER_PAGE_CHOICES: [i64; 3] = [25, 50, 100];

/// A list's URL parameters, as sent and then normalised. The services list uses a subset.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub auth_type: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub sort: String,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl ListParams {
    /// Defaults for missing or invalid values.
    pub fn normalised(mut self) -> ListParams {
        self.q = self.q.trim().chars().take(200).collect();
        self.service = self.service.trim().chars().take(50).collect();
        if Status::parse(&self.status).is_none() && !self.attention() {
            self.status.clear();
        }
        if AuthType::parse(&self.auth_type).is_none() {
            self.auth_type.clear();
        }
        if self.owner != "any" {
            self.owner = "me".into();
        }
        self.sort = self.sort().as_str().to_owned();
        self.page = Some(self.page().to_string());
        self.per_page = Some(self.per_page().to_string());
        self
    }

    pub fn sort(&self) -> Sort {
        Sort::parse(&self.sort).unwrap_or_default()
    }

    pub fn page(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p: &i64| (1..=1_000_000).contains(p))
            .unwrap_or(1)
    }

    pub fn per_page(&self) -> i64 {
        self.per_page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| PER_PAGE_CHOICES.contains(p))
            .unwrap_or(25)
    }

    fn window(&self) -> Window {
        Window { page: self.page(), per_page: self.per_page() }
    }

    /// Only the connections that need attention.
    pub fn attention(&self) -> bool {
        self.status == ATTENTION
    }

    /// All Connections rather than My Connections.
    pub fn all(&self) -> bool {
        self.owner == "any"
    }

    pub fn service_query(&self) -> ServiceQuery {
        ServiceQuery {
            search: self.q.clone(),
            auth_type: AuthType::parse(&self.auth_type),
            sort: self.sort(),
            window: self.window(),
        }
    }

    /// The connections query for `viewer` (My Connections are theirs) at `now`; `service_id` is the
    /// service filter's, looked up by the caller.
    pub fn connection_query(&self, viewer: i64, service_id: Option<i64>, now: i64) -> ConnectionQuery {
        ConnectionQuery {
            search: self.q.clone(),
            service_id,
            status: Status::parse(&self.status),
            attention: self.attention(),
            auth_type: AuthType::parse(&self.auth_type),
            owner_id: (!self.all()).then_some(viewer),
            sort: self.sort(),
            window: self.window(),
            now,
        }
    }

    /// The filters and sort (what a change of page keeps), without empty ones.
    pub fn kept(&self) -> Vec<(&'static str, &str)> {
        let all = [
            ("q", self.q.as_str()),
            ("service", &self.service),
            ("status", &self.status),
            ("auth_type", &self.auth_type),
            ("owner", if self.owner == "any" { "any" } else { "" }),
            ("sort", &self.sort),
        ];
        all.into_iter().filter(|(_, v)| !v.is_empty()).collect()
    }

    /// This list (at `path`) on another page.
    pub fn url_for_page(&self, path: &str, page: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(self.kept());
        query.append_pair("page", &page.to_string());
        query.append_pair("per_page", &self.per_page().to_string());
        format!("{path}?{}", query.finish())
    }

    /// The URL that sorts by `column` ("name" or "updated"), toggling the direction when already
    /// sorted by it; names go A–Z first, updates newest first.
    pub fn url_for_sort(&self, path: &str, column: &str) -> String {
        let next = match (self.sort(), column) {
            (Sort::NameAsc, "name") => Sort::NameDesc,
            (_, "name") => Sort::NameAsc,
            (Sort::UpdatedDesc, "updated") => Sort::UpdatedAsc,
            _ => Sort::UpdatedDesc,
        };
        let mut other = self.clone();
        other.sort = next.as_str().to_owned();
        other.url_for_page(path, 1)
    }

    /// `ascending`, `descending` or `none`, for a column header's `aria-sort`.
    pub fn aria_sort(&self, column: &str) -> &'static str {
        match (self.sort(), column) {
            (Sort::NameAsc, "name") | (Sort::UpdatedAsc, "updated") => "ascending",
            (Sort::NameDesc, "name") | (Sort::UpdatedDesc, "updated") => "descending",
            _ => "none",
        }
    }

    /// `sort-asc`, `sort-desc` or nothing, for a column header's class.
    pub fn sort_class(&self, column: &str) -> &'static str {
        match self.aria_sort(column) {
            "ascending" => "sort-asc",
            "descending" => "sort-desc",
            _ => "",
        }
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.is_empty()
            || !self.service.is_empty()
            || !self.status.is_empty()
            || !self.auth_type.is_empty()
    }
}

/// Where a list page stands: "26–50 of 312", previous and next links, and what they load into.
#[derive(Debug, Clone)]
pub struct Pager {
    pub total: Total,
    pub first: i64,
    pub last: i64,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    pub per_page: i64,
    /// The list's path, and the element its htmx requests fill.
    pub path: &'static str,
    pub target: &'static str,
}

impl Pager {
    pub fn new(
        params: &ListParams,
        path: &'static str,
        target: &'static str,
        total: Total,
        shown: usize,
    ) -> Pager {
        let (page, per_page) = (params.page(), params.per_page());
        let first = if shown == 0 { 0 } else { (page - 1) * per_page + 1 };
        let last = if shown == 0 { 0 } else { first + shown as i64 - 1 };
        Pager {
            total,
            first,
            last,
            prev_url: (page > 1).then(|| params.url_for_page(path, page - 1)),
            next_url: (page * per_page < total.n || total.at_least)
                .then(|| params.url_for_page(path, page + 1)),
            per_page,
            path,
            target,
        }
    }
}

#[cfg(test)]
mod tests;
