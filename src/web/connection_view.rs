//! What the connection pages show: the list's URL parameters, its rows, and the connect action that
//! fits a connection's service.

use serde::Deserialize;

use crate::app::AppState;
use crate::clock::format_time;
use crate::domain::connection::Status;
use crate::domain::service::{AuthType, GrantType};
use crate::error::AppError;
use crate::models::connection::{self as connections, ConnectionQuery, ConnectionSort, ConnectionSummary};
use crate::models::service as services;
use crate::ops::connections::ConnectionView;
use crate::web::Escaped;
use crate::web::list::PER_PAGE_CHOICES;

/// `?q=&service=&status=&auth_type=&owner=me|any&sort=&page=&per_page=`; unknown values fall back.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConnectionParams {
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

impl ConnectionParams {
    pub fn normalised(mut self) -> ConnectionParams {
        self.q = self.q.trim().chars().take(200).collect();
        if Status::parse(&self.status).is_none() {
            self.status.clear();
        }
        if AuthType::parse(&self.auth_type).is_none() {
            self.auth_type.clear();
        }
        if self.owner != "any" {
            self.owner = "me".into();
        }
        if ConnectionSort::parse(&self.sort).is_none() {
            self.sort = "name".into();
        }
        self.service = self.service.trim().chars().take(50).collect();
        self
    }

    pub fn page(&self) -> i64 {
        self.page.as_deref().and_then(|p| p.parse().ok()).filter(|p: &i64| (1..=1_000_000).contains(p)).unwrap_or(1)
    }

    pub fn per_page(&self) -> i64 {
        self.per_page.as_deref().and_then(|p| p.parse().ok()).filter(|p| PER_PAGE_CHOICES.contains(p)).unwrap_or(25)
    }

    pub fn all(&self) -> bool {
        self.owner == "any"
    }

    pub fn url_for_page(&self, page: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("q", &self.q), ("service", &self.service), ("status", &self.status), ("auth_type", &self.auth_type)] {
            if !v.is_empty() {
                query.append_pair(k, v);
            }
        }
        query.append_pair("owner", &self.owner);
        query.append_pair("sort", &self.sort);
        query.append_pair("page", &page.to_string());
        query.append_pair("per_page", &self.per_page().to_string());
        format!("/admin/connections?{}", query.finish())
    }

    pub fn url_for_sort(&self, column: &str) -> String {
        let mut other = self.clone();
        other.sort = crate::web::list::toggled_sort(&self.sort, column).to_owned();
        other.url_for_page(1)
    }

    pub fn sort_class(&self, column: &str) -> &'static str {
        crate::web::list::sort_class(&self.sort, column)
    }

    /// The filters and sort, for forms that change only the page size.
    pub fn kept(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("q", &self.q),
            ("service", &self.service),
            ("status", &self.status),
            ("auth_type", &self.auth_type),
            ("owner", &self.owner),
            ("sort", &self.sort),
        ]
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.is_empty() || !self.service.is_empty() || !self.status.is_empty() || !self.auth_type.is_empty()
    }
}

/// One row of the list, with what this viewer may do to it.
pub struct ConnectionItem {
    pub link_name: Escaped,
    pub name: Escaped,
    pub service_name: String,
    pub auth_type: AuthType,
    pub status: Status,
    pub owner: String,
    pub mine: bool,
    pub connected_label: String,
}

/// How "Connect" works for a connection's kind of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectAction {
    /// A page with a form for API key values or a username and password.
    Credentials,
    /// A GET link (carrying a single-use nonce) that redirects to the provider's consent page.
    Consent,
    /// A POST: the token request is made at once.
    ClientCredentials,
}

impl ConnectAction {
    pub fn of(view: &ConnectionView) -> ConnectAction {
        match (view.auth_type, view.grant_type) {
            (AuthType::OAuth2, Some(GrantType::ClientCredentials)) => ConnectAction::ClientCredentials,
            (AuthType::OAuth2, _) => ConnectAction::Consent,
            _ => ConnectAction::Credentials,
        }
    }
}

/// Up to this many services, the list's service filter is a drop-down list.
const SERVICE_CHOICES_MAX: i64 = 200;

/// One page of the list for `viewer`, and what the filters offer.
pub struct ListData {
    pub items: Vec<ConnectionItem>,
    pub total: connections::Total,
    /// The service filter's choices (link name, name, auth type); `None` when there are too many for
    /// a list (a text field then).
    pub services: Option<Vec<(String, String, String)>>,
    pub has_services: bool,
}

/// One page of the list, the number of matches and the filter choices, on one pooled connection.
pub async fn page(state: &AppState, params: &ConnectionParams, viewer: i64) -> Result<ListData, AppError> {
    let (params, cache, names) = (params.clone(), state.cache.clone(), state.names.clone());
    state
        .db
        .read(move |c| {
            let service_id = match params.service.as_str() {
                "" => None,
                link => Some(services::find(c, link)?.map_or(-1, |s| s.id)),
            };
            let query = ConnectionQuery {
                search: params.q.clone(),
                service_id,
                status: Status::parse(&params.status),
                auth_type: AuthType::parse(&params.auth_type),
                owner_id: (!params.all()).then_some(viewer),
                sort: ConnectionSort::parse(&params.sort).unwrap_or(ConnectionSort::NameAsc),
                page: params.page(),
                per_page: params.per_page(),
            };
            let connections::Listing { rows, total, service_count } =
                connections::list::<ConnectionSummary>(c, &query, cache.as_deref(), Some(&names))?;
            let items = rows
                .into_iter()
                .map(|row| ConnectionItem {
                    mine: row.meta.owner_id == viewer,
                    connected_label: row.meta.connected_at.map_or_else(|| "—".into(), format_time),
                    status: Status::parse(&row.meta.status).unwrap_or(Status::NotConnected),
                    auth_type: AuthType::parse(&row.auth_type).unwrap_or(AuthType::ApiKey),
                    link_name: Escaped::new(&row.meta.link_name),
                    name: Escaped::new(&row.meta.name),
                    service_name: row.service_name,
                    owner: row.owner,
                })
                .collect();
            let services = (service_count <= SERVICE_CHOICES_MAX).then(|| services::names(c)).transpose()?;
            Ok(ListData { items, total, services, has_services: service_count > 0 })
        })
        .await
}
