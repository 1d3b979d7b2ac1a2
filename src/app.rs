//! The one way in: `build(Config)` prepares the database, keyring and first admin, binds the server
//! and returns it running. Also THE route table, which tests walk to check every route's guard.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, Route, web};
use url::Url;

use crate::activity::Activity;
use crate::cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Secret;
use crate::db::Db;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::password::Hasher;
use crate::refresher::Refresher;
use crate::state::AppState;
use crate::throttle::Throttle;
use crate::{api, body_deadline, input, keys, request_id, security, setup, web as pages};

/// A started server and what its caller needs to tell the operator.
pub struct Running {
    pub server: Server,
    pub addr: SocketAddr,
    pub base_url: Url,
    /// Set on the first start when the admin password was generated: print it once.
    pub generated_admin_password: Option<Secret>,
    pub state: web::Data<AppState>,
    /// Tells background work (the token refresher) to stop.
    pub stop_background: tokio::sync::watch::Sender<bool>,
}

/// Builds and starts the whole app. `main` and every test call this.
pub async fn build(config: Config) -> Result<Running, AppError> {
    let wait = std::time::Duration::from_secs(config.database_timeout_secs);
    let database_url = crate::db::through_tls_relay(&config.database_url, &config.data_dir)?;
    let db = Db::connect_within(&database_url, (config.workers as u32 * 2).clamp(4, 32), wait)?;
    db.migrate()?;
    let keyring = keys::load_or_create(&config, &db)?;
    keys::check_database_key_ids(&db, &keyring, config.clock.now())?;
    let keyring = keys::at_start(&config, &db, keyring, config.clock.now())?;
    setup::record_destinations(&db)?;
    let instance = setup::claim_instance(&db, &config)?;

    let listener = TcpListener::bind(&config.bind)
        .map_err(|e| AppError::Startup(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener.local_addr().map_err(|e| AppError::Startup(e.to_string()))?;
    let base_url = match &config.base_url {
        Some(url) => url.clone(),
        None => Url::parse(&format!("http://{addr}")).map_err(|e| AppError::Startup(e.to_string()))?,
    };
    let generated_admin_password = setup::first_run(&db, &config, &base_url)?;

    let hasher = Hasher::new(config.workers.min(4));
    hasher.warm_up().await;
    let outbound = Outbound::new(&config)
        .map_err(|e| AppError::Startup(format!("cannot build the outbound HTTP client: {e}")))?;
    let clock = config.clock.clone();
    let refresher = Refresher::new(&instance)?;
    let state = web::Data::new(AppState {
        activity: Activity::start(db.clone()),
        cache: cache::for_database(&db),
        names: Arc::default(),
        metrics: Metrics::default(),
        db,
        clock,
        base_url: base_url.clone(),
        keyring,
        hasher,
        sign_in_throttle: Throttle::default(),
        outbound,
        refresher,
        config: config.clone(),
    });

    let app_state = state.clone();
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(app_state.clone())
            .app_data(pages::form_config())
            .app_data(web::PayloadConfig::default().limit(256 * 1024))
            .app_data(api::json_config())
            .app_data(api::query_config());
        let (fixed, scoped) = routes_in_match_order();
        for (path, defs) in by_path(fixed, 0) {
            app = app.service(resource(path, defs));
        }
        for (fixed_part, patterns) in scoped {
            let outer = patterns.into_iter().fold(web::scope(fixed_part), |outer, (prefix, defs)| {
                let inner = web::scope(&prefix[fixed_part.len()..]);
                outer.service(
                    by_path(defs, prefix.len())
                        .into_iter()
                        .fold(inner, |scope, (path, defs)| scope.service(resource(path, defs))),
                )
            });
            app = app.service(outer);
        }
        app.default_service(web::to(pages::errors::not_found))
            .wrap(from_fn(input::check_url))
            .wrap(from_fn(security::check_origin))
            .wrap(from_fn(pages::errors::render_errors))
            .wrap(from_fn(security::headers))
            .wrap(from_fn(body_deadline::body_deadline))
            .wrap(from_fn(request_id::tag))
    })
    .workers(config.workers)
    // `shutdown` stops the server on SIGTERM and Ctrl-C itself, then finishes the rest in order.
    .disable_signals()
    .shutdown_timeout(config.shutdown_grace_secs)
    .listen(listener)
    .map_err(|e| AppError::Startup(format!("cannot start the HTTP server: {e}")))?
    .run();

    let (stop_background, stopped) = tokio::sync::watch::channel(false);
    spawn_maintenance(state.db.clone(), state.clock.clone(), stopped.clone());
    let (db, keyring, clock) = (state.db.clone(), state.keyring.clone(), state.clock.clone());
    keys::spawn_reload(config.clone(), db, keyring, clock, stopped.clone());
    if let Some(cache) = &state.cache {
        cache::watch(&state.db, &database_url, cache.clone(), stopped.clone());
    }
    if config.webhook_interval_secs > 0 {
        crate::alerts::delivery::spawn(
            state.clone(),
            std::time::Duration::from_secs(config.webhook_interval_secs),
            stopped.clone(),
        );
    }
    if config.no_refresh {
        tracing::warn!(
            "token refreshes are off (--no-refresh): no token or revoke endpoint is called, and an invoke \
             that needs a new token fails"
        );
    } else if config.refresh_interval_secs > 0 {
        crate::ops::access_tokens::spawn_background(
            state.clone(),
            std::time::Duration::from_secs(config.refresh_interval_secs),
            stopped,
        );
    }
    Ok(Running { server, addr, base_url, generated_admin_password, state, stop_background })
}

/// Database upkeep every ten minutes until `stop` turns true: expired nonces and month-old webhook
/// deliveries go, and the planner's statistics are kept current (see `db::optimize`).
fn spawn_maintenance(db: Db, clock: Clock, mut stop: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        // Not at start: statistics taken of a new, empty database would mislead the planner for as
        // long as it fills (a bulk load most of all).
        let every = std::time::Duration::from_secs(600);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => break,
            }
            let now = clock.now();
            let upkeep = db.run(move |c| {
                crate::models::nonce::prune(c, now)?;
                crate::models::webhook_delivery::prune(c, now - 30 * 86_400)?;
                Ok(crate::db::optimize(c)?)
            });
            if let Err(e) = upkeep.await {
                tracing::warn!(error = %e, "database maintenance failed");
            }
        }
    });
}

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

fn routes_in_match_order() -> (Vec<RouteDef>, Scoped) {
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
fn by_path(defs: Vec<RouteDef>, cut: usize) -> Vec<(&'static str, Vec<RouteDef>)> {
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
fn resource(path: &str, defs: Vec<RouteDef>) -> actix_web::Resource {
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
        r(M::GET, "/api/v1/me", Api, || web::get().to(api::me::show_me)),
        r(M::GET, "/api/v1/openapi.json", Public, || web::get().to(api::openapi::document)),
        r(M::GET, "/api/v1/services", Api, || web::get().to(api::services::list_services)),
        r(M::POST, "/api/v1/services", Api, || web::post().to(api::services::create_service)),
        r(M::GET, "/api/v1/services/{link}", Api, || web::get().to(api::services::show_service)),
        r(M::PATCH, "/api/v1/services/{link}", Api, || web::patch().to(api::services::update_service)),
        r(M::DELETE, "/api/v1/services/{link}", Api, || web::delete().to(api::services::delete_service)),
        r(M::GET, "/api/v1/templates", Api, || web::get().to(api::templates::list_templates)),
        r(M::GET, "/api/v1/templates/{id}", Api, || web::get().to(api::templates::show_template)),
        r(M::GET, "/api/v1/tokens", Api, || web::get().to(api::tokens::list_tokens)),
        r(M::POST, "/api/v1/tokens", Api, || web::post().to(api::tokens::create_token)),
        r(M::GET, "/api/v1/tokens/{id}", Api, || web::get().to(api::tokens::show_token)),
        r(M::DELETE, "/api/v1/tokens/{id}", Api, || web::delete().to(api::tokens::revoke_token)),
        r(M::GET, "/api/v1/connections", Api, || web::get().to(api::connections::list_connections)),
        r(M::POST, "/api/v1/connections", Api, || web::post().to(api::connections::create_connection)),
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
        r(M::POST, "/api/v1/connections/{link}/invoke", Invoke, || {
            web::post().to(api::connections::invoke_connection)
        }),
        r(M::POST, "/api/v1/connections/{link}/test", Invoke, || {
            web::post().to(api::connections::test_connection)
        }),
    ]
}
