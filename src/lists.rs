//! The list read model: what a list of services or connections asks for (search, filters, sort,
//! page) and how a page of it is read, for the HTML pages and the JSON API alike. A page's cost
//! follows the page, not the table: every page is one statement on indexes that give its order,
//! totals come from counters that triggers keep, and a search first collects its matches (at most
//! `COUNT_CAP`), or takes them from the in-memory name index (`search`).

pub mod connections;
pub mod services;

pub use crate::search::{COUNT_CAP, Total};

/// The orders a list can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    NameAsc,
    NameDesc,
    UpdatedDesc,
    UpdatedAsc,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::NameAsc, Sort::NameDesc, Sort::UpdatedDesc, Sort::UpdatedAsc];

    /// As URLs and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::NameAsc => "name",
            Sort::NameDesc => "-name",
            Sort::UpdatedDesc => "-updated",
            Sort::UpdatedAsc => "updated",
        }
    }

    /// As a sort menu shows it.
    pub fn label(self) -> &'static str {
        match self {
            Sort::NameAsc => "Name A–Z",
            Sort::NameDesc => "Name Z–A",
            Sort::UpdatedDesc => "Recently updated",
            Sort::UpdatedAsc => "Least recently updated",
        }
    }

    pub fn parse(raw: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn by_name(self) -> bool {
        matches!(self, Sort::NameAsc | Sort::NameDesc)
    }

    pub fn descending(self) -> bool {
        matches!(self, Sort::NameDesc | Sort::UpdatedDesc)
    }
}

/// Which page of a list, of how many rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub page: i64,
    pub per_page: i64,
}

impl Default for Window {
    fn default() -> Window {
        Window { page: 1, per_page: 25 }
    }
}

impl Window {
    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// The text a search matches: trimmed and lowercased, as the `name_lower` columns hold names.
pub fn needle(search: &str) -> String {
    search.trim().chars().filter(|c| !c.is_control()).flat_map(char::to_lowercase).collect()
}

/// A `LIKE` pattern for a substring, its wildcards escaped (with `ESCAPE '\'`).
pub fn like_pattern(needle: &str) -> String {
    format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}
