//! `AppState`: what every handler can reach. `app::build` makes the one instance.

use std::sync::Arc;

use url::Url;

use crate::activity::Activity;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::password::Hasher;
use crate::refresher::Refresher;
use crate::search::NameIndex;
use crate::throttle::Throttle;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub config: Config,
    /// The URL the portal is reached at; redirects and cookie flags derive from it.
    pub base_url: Url,
    pub keyring: Keyring,
    pub hasher: Hasher,
    /// Failed sign-ins per client address (see `throttle`).
    pub sign_in_throttle: Throttle,
    pub clock: Clock,
    /// The one client for calls to third parties.
    pub outbound: Outbound,
    /// Single-flight token refreshes.
    pub refresher: Refresher,
    /// The activity log's writer (invokes, refreshes and tests, recorded off the request path).
    pub activity: Activity,
    /// Sessions, API tokens and connections read recently (see `cache`); none for an in-memory
    /// database.
    pub cache: Option<Arc<Cache>>,
    /// Every connection's names, for searches (see `search`).
    pub names: Arc<NameIndex>,
    /// What this instance counted, for `GET /metrics`.
    pub metrics: Metrics,
}
