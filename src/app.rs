//! The one way in: `build(Config)` prepares the database, keyring and first admin, binds the server
//! and returns it running, serving the route table of `routes`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
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
use crate::routes::{by_path, resource, routes_in_match_order};
use crate::search::NameIndex;
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
    setup::seal_webhook_urls(&db, &keyring)?;
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
    let refresher = Refresher::new(&instance, config.refresh_concurrency_per_service)?;
    let state = web::Data::new(AppState {
        activity: Activity::start(db.clone()),
        cache: cache::for_database(&db),
        names: Arc::new(NameIndex::new(db.clone())),
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

    // The first search finds the name index loaded rather than starting the load.
    state.names.warm_up();
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

/// Database upkeep every ten minutes until `stop` turns true: expired nonces, month-old webhook
/// deliveries and audit entries past their retention go, the planner's statistics are kept current
/// (see `db::optimize`), and the connections whose refresh token came within a week of expiring
/// raise their event (`alerts::reconnect_soon`).
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
                crate::ops::audit::retention::prune(c, now)?;
                Ok(crate::db::optimize(c)?)
            });
            if let Err(e) = upkeep.await {
                tracing::warn!(error = %e, "database maintenance failed");
            }
            if let Err(e) = crate::alerts::reconnect_soon::sweep(&db, now).await {
                tracing::warn!(error = %e, "the reconnect-soon sweep failed");
            }
        }
    });
}
