//! THE route table: every path the app serves, who may call it, and how the router is given it.
//! Tests walk the table to check every route's guard.

use actix_web::http::Method;
use actix_web::{Route, web};

use crate::error::AppError;
use crate::{api, web as pages};

/// Who may call a route. The handler's extractors enforce it; tests check the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in, health, static files).
    Public,
    /// Any signed-in user (sign-out).
    SignedIn,
    /// A signed-in SDAdmin, in the browser.
    Admin,
    /// An SDAdmin's unrestricted API token.
    Api,
    /// An SDAdmin's API token, unrestricted or restricted to invoking the route's connection.
    Invoke,
    /// The metrics token (`CONNECTIONS_METRICS_TOKEN`); the route does not exist without one.
    Metrics,
}

/// One row of the route table.
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    route: fn() -> Route,
}

const fn r(method: Method, path: &'static str, access: Access, route: fn() -> Route) -> RouteDef {
    RouteDef { method, path, access, route }
}

/// The route table as the router gets it: the fixed paths, tried one by one (string comparisons),
/// then the paths with a `{segment}`, grouped under one scope per pattern prefix
/// (`/api/v1/connections/{link}` holds `/invoke`, `/revoke`, …), each inside a scope of its fixed
/// part (`/api/v1/connections`). Each pattern is a regular expression, and the router tries every
/// one listed before a match; a fixed part is a string comparison, so this way a path reaches only
/// the one pattern under its fixed part. The table lists fixed paths before the patterns that also
/// match them (`/admin/services/new`, `/admin/services/{link}`) and a longer prefix before the
/// pattern it starts with (`/admin/services/rows/{kind}`), and both orders are kept. Each path
/// becomes one resource (`resource`).
type Scoped = Vec<(&'static str, Vec<(&'static str, Vec<RouteDef>)>)>;

pub(crate) fn routes_in_match_order() -> (Vec<RouteDef>, Scoped) {
    let (dynamic, fixed): (Vec<RouteDef>, Vec<RouteDef>) =
        routes().into_iter().partition(|def| def.path.contains('{'));
    let mut scoped: Scoped = Vec::new();
    for def in dynamic {
        let end = def.path.find('}').map_or(def.path.len(), |i| i + 1);
        let prefix = &def.path[..end];
        let fixed_part = &prefix[..prefix.rfind("/{").unwrap_or(0)];
        let patterns = match scoped.iter().position(|(f, _)| *f == fixed_part) {
            Some(i) => &mut scoped[i].1,
            None => &mut scoped.push_mut((fixed_part, Vec::new())).1,
        };
        match patterns.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, defs)) => defs.push(def),
            None => patterns.push((prefix, vec![def])),
        }
    }
    (fixed, scoped)
}

/// The rows of `defs` grouped by path, in the order of each path's first row; `cut` bytes of each
/// path belong to the scopes around them.
pub(crate) fn by_path(defs: Vec<RouteDef>, cut: usize) -> Vec<(&'static str, Vec<RouteDef>)> {
    let mut grouped: Vec<(&'static str, Vec<RouteDef>)> = Vec::new();
    for def in defs {
        let path = &def.path[cut..];
        match grouped.iter_mut().find(|(p, _)| *p == path) {
            Some((_, same)) => same.push(def),
            None => grouped.push((path, vec![def])),
        }
    }
    grouped
}

/// One resource per path, holding every method the table gives it. A path that matches answers
/// any other method with 405 and `Allow` (RFC 9110), instead of the router moving on to a 404, and
/// a fixed path (`/admin/services/new`) keeps a pattern that also matches it from taking its
/// other methods.
pub(crate) fn resource(path: &str, defs: Vec<RouteDef>) -> actix_web::Resource {
    let allow = defs.iter().map(|def| def.method.as_str()).collect::<Vec<_>>().join(", ");
    defs.into_iter().fold(web::resource(path), |resource, def| resource.route((def.route)())).default_service(
        web::to(move || {
            let allow = allow.clone();
            async move { Err::<actix_web::HttpResponse, _>(AppError::MethodNotAllowed(allow)) }
        }),
    )
}

/// THE route table: every path the app serves.
pub fn routes() -> Vec<RouteDef> {
    use Access::*;
    use Method as M;
    vec![
        r(M::GET, "/static/{name}", Public, || web::get().to(pages::assets::serve_asset)),
        r(M::GET, "/healthz", Public, || web::get().to(api::health::healthz)),
        r(M::GET, "/readyz", Public, || web::get().to(api::health::readyz)),
        r(M::GET, "/metrics", Metrics, || web::get().to(api::metrics::scrape)),
        r(M::GET, "/login", Public, || web::get().to(pages::login::show_login)),
        r(M::POST, "/login", Public, || web::post().to(pages::login::sign_in)),
        r(M::POST, "/logout", SignedIn, || web::post().to(pages::login::sign_out)),
        r(M::GET, "/", Admin, || web::get().to(pages::console::home)),
        r(M::GET, "/admin/connections", Admin, || web::get().to(pages::connections::list_connections)),
        r(M::POST, "/admin/connections", Admin, || web::post().to(pages::connections::create_connection)),
        r(M::GET, "/admin/connections/new", Admin, || web::get().to(pages::connections::new_connection)),
        r(M::POST, "/admin/connections/bulk", Admin, || web::post().to(pages::bulk::confirm_connections)),
        r(M::POST, "/admin/connections/bulk/run", Admin, || web::post().to(pages::bulk::run_connections)),
        r(M::GET, "/admin/connections/{link}", Admin, || web::get().to(pages::connections::show_connection)),
        r(M::POST, "/admin/connections/{link}", Admin, || {
            web::post().to(pages::connections::update_connection)
        }),
        r(M::GET, "/admin/connections/{link}/edit", Admin, || {
            web::get().to(pages::connections::edit_connection)
        }),
        r(M::GET, "/admin/connections/{link}/connect", Admin, || {
            web::get().to(pages::connection_actions::connect_connection)
        }),
        r(M::POST, "/admin/connections/{link}/connect", Admin, || {
            web::post().to(pages::connection_actions::store_credentials)
        }),
        r(M::GET, "/admin/connections/{link}/revoke", Admin, || {
            web::get().to(pages::connection_actions::confirm_revoke)
        }),
        r(M::POST, "/admin/connections/{link}/revoke", Admin, || {
            web::post().to(pages::connection_actions::revoke_connection)
        }),
        r(M::POST, "/admin/connections/{link}/test", Admin, || {
            web::post().to(pages::connection_actions::test_connection)
        }),
        r(M::GET, "/admin/connections/{link}/transfer", Admin, || {
            web::get().to(pages::transfer::show_transfer)
        }),
        r(M::POST, "/admin/connections/{link}/transfer", Admin, || {
            web::post().to(pages::transfer::transfer_connection)
        }),
        r(M::GET, "/admin/connections/{link}/delete", Admin, || {
            web::get().to(pages::connection_actions::confirm_delete)
        }),
        r(M::POST, "/admin/connections/{link}/delete", Admin, || {
            web::post().to(pages::connection_actions::delete_connection)
        }),
        r(M::GET, "/integration/oauth/callback", Admin, || {
            web::get().to(pages::connection_actions::oauth_callback)
        }),
        r(M::GET, "/admin/services", Admin, || web::get().to(pages::services::list_services)),
        r(M::POST, "/admin/services", Admin, || web::post().to(pages::services::create_service)),
        r(M::GET, "/admin/services/new", Admin, || web::get().to(pages::services::new_service)),
        r(M::GET, "/admin/services/templates", Admin, || web::get().to(pages::templates::catalogue)),
        r(M::POST, "/admin/services/bulk", Admin, || web::post().to(pages::service_bulk::confirm_services)),
        r(M::POST, "/admin/services/bulk/run", Admin, || web::post().to(pages::service_bulk::run_services)),
        r(M::GET, "/admin/services/export.json", Admin, || {
            web::get().to(pages::service_import::export_services)
        }),
        r(M::GET, "/admin/services/import", Admin, || web::get().to(pages::service_import::show_import)),
        r(M::POST, "/admin/services/import", Admin, || {
            web::post().to(pages::service_import::import_services)
        }),
        r(M::GET, "/admin/services/rows/{kind}", Admin, || web::get().to(pages::services::new_row)),
        r(M::GET, "/admin/services/{link}", Admin, || web::get().to(pages::services::show_service)),
        r(M::POST, "/admin/services/{link}", Admin, || web::post().to(pages::services::update_service)),
        r(M::GET, "/admin/services/{link}/edit", Admin, || web::get().to(pages::services::edit_service)),
        r(M::GET, "/admin/services/{link}/delete", Admin, || {
            web::get().to(pages::services::confirm_delete_service)
        }),
        r(M::POST, "/admin/services/{link}/delete", Admin, || {
            web::post().to(pages::services::delete_service)
        }),
        r(M::GET, "/admin/services/{link}/revoke-all", Admin, || {
            web::get().to(pages::service_bulk::confirm_revoke_all)
        }),
        r(M::POST, "/admin/services/{link}/revoke-all", Admin, || {
            web::post().to(pages::service_bulk::revoke_all)
        }),
        r(M::GET, "/admin/settings/portal", Admin, || web::get().to(pages::settings::show_portal_settings)),
        r(M::POST, "/admin/settings/portal", Admin, || {
            web::post().to(pages::settings::update_portal_settings)
        }),
        r(M::GET, "/admin/settings/notifications", Admin, || {
            web::get().to(pages::notifications::list_endpoints)
        }),
        r(M::POST, "/admin/settings/notifications", Admin, || {
            web::post().to(pages::notifications::create_endpoint)
        }),
        r(M::POST, "/admin/settings/notifications/smtp", Admin, || {
            web::post().to(pages::notifications::save_smtp)
        }),
        r(M::GET, "/admin/settings/notifications/{id}", Admin, || {
            web::get().to(pages::notifications::show_endpoint)
        }),
        r(M::POST, "/admin/settings/notifications/{id}", Admin, || {
            web::post().to(pages::notifications::update_endpoint)
        }),
        r(M::POST, "/admin/settings/notifications/{id}/test", Admin, || {
            web::post().to(pages::notifications::test_endpoint)
        }),
        r(M::POST, "/admin/settings/notifications/{id}/delete", Admin, || {
            web::post().to(pages::notifications::delete_endpoint)
        }),
        r(M::GET, "/admin/settings/encryption", Admin, || web::get().to(pages::encryption::show_encryption)),
        r(M::GET, "/admin/tokens", Admin, || web::get().to(pages::tokens::list_tokens)),
        r(M::POST, "/admin/tokens", Admin, || web::post().to(pages::tokens::create_token)),
        r(M::GET, "/admin/tokens/mine", Admin, || web::get().to(pages::tokens::list_my_tokens)),
        r(M::GET, "/admin/tokens/new", Admin, || web::get().to(pages::tokens::new_token)),
        r(M::POST, "/admin/tokens/{id}/revoke", Admin, || web::post().to(pages::tokens::revoke_token)),
        r(M::GET, "/admin/users", Admin, || web::get().to(pages::users::list_users)),
        r(M::GET, "/admin/users/{username}/transfer", Admin, || {
            web::get().to(pages::transfer::show_user_transfer)
        }),
        r(M::POST, "/admin/users/{username}/transfer", Admin, || {
            web::post().to(pages::transfer::transfer_user_connections)
        }),
        r(M::GET, "/api/v1/me", Api, || web::get().to(api::me::show_me)),
        r(M::GET, "/api/v1/openapi.json", Public, || web::get().to(api::openapi::document)),
        r(M::GET, "/api/v1/services", Api, || web::get().to(api::services::list_services)),
        r(M::POST, "/api/v1/services", Api, || web::post().to(api::services::create_service)),
        r(M::GET, "/api/v1/services/export", Api, || web::get().to(api::services::export_services)),
        r(M::GET, "/api/v1/services/{link}", Api, || web::get().to(api::services::show_service)),
        r(M::PATCH, "/api/v1/services/{link}", Api, || web::patch().to(api::services::update_service)),
        r(M::DELETE, "/api/v1/services/{link}", Api, || web::delete().to(api::services::delete_service)),
        r(M::POST, "/api/v1/services/{link}/revoke-all", Api, || web::post().to(api::bulk::revoke_all)),
        r(M::GET, "/api/v1/templates", Api, || web::get().to(api::templates::list_templates)),
        r(M::GET, "/api/v1/templates/{id}", Api, || web::get().to(api::templates::show_template)),
        r(M::GET, "/api/v1/tokens", Api, || web::get().to(api::tokens::list_tokens)),
        r(M::POST, "/api/v1/tokens", Api, || web::post().to(api::tokens::create_token)),
        r(M::GET, "/api/v1/tokens/{id}", Api, || web::get().to(api::tokens::show_token)),
        r(M::DELETE, "/api/v1/tokens/{id}", Api, || web::delete().to(api::tokens::revoke_token)),
        r(M::GET, "/api/v1/connections", Api, || web::get().to(api::connections::list_connections)),
        r(M::POST, "/api/v1/connections", Api, || web::post().to(api::connections::create_connection)),
        r(M::POST, "/api/v1/connections/bulk", Api, || web::post().to(api::bulk::bulk_connections)),
        r(M::GET, "/api/v1/connections/{link}", Api, || web::get().to(api::connections::show_connection)),
        r(M::PATCH, "/api/v1/connections/{link}", Api, || {
            web::patch().to(api::connections::update_connection)
        }),
        r(M::DELETE, "/api/v1/connections/{link}", Api, || {
            web::delete().to(api::connections::delete_connection)
        }),
        r(M::PUT, "/api/v1/connections/{link}/credentials", Api, || {
            web::put().to(api::connections::put_credentials)
        }),
        r(M::POST, "/api/v1/connections/{link}/authorize", Api, || {
            web::post().to(api::connections::authorize_connection)
        }),
        r(M::POST, "/api/v1/connections/{link}/revoke", Api, || {
            web::post().to(api::connections::revoke_connection)
        }),
        r(M::POST, "/api/v1/connections/{link}/transfer", Api, || {
            web::post().to(api::bulk::transfer_connection)
        }),
        r(M::POST, "/api/v1/connections/{link}/invoke", Invoke, || {
            web::post().to(api::connections::invoke_connection)
        }),
        r(M::POST, "/api/v1/connections/{link}/test", Invoke, || {
            web::post().to(api::connections::test_connection)
        }),
        r(M::POST, "/api/v1/users/{username}/transfer", Api, || {
            web::post().to(api::bulk::transfer_user_connections)
        }),
        r(M::GET, api::proxy::ROUTE, Invoke, || web::get().to(api::proxy::proxy_connection)),
        r(M::HEAD, api::proxy::ROUTE, Invoke, || web::head().to(api::proxy::proxy_connection)),
        r(M::POST, api::proxy::ROUTE, Invoke, || web::post().to(api::proxy::proxy_connection)),
        r(M::PUT, api::proxy::ROUTE, Invoke, || web::put().to(api::proxy::proxy_connection)),
        r(M::PATCH, api::proxy::ROUTE, Invoke, || web::patch().to(api::proxy::proxy_connection)),
        r(M::DELETE, api::proxy::ROUTE, Invoke, || web::delete().to(api::proxy::proxy_connection)),
        r(M::OPTIONS, api::proxy::ROUTE, Invoke, || {
            web::route().method(M::OPTIONS).to(api::proxy::proxy_connection)
        }),
    ]
}
