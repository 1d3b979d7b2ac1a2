//! `GET /metrics`: this instance's metrics in the Prometheus text format, for a scraper holding the
//! metrics token (see `metrics` for the series and `auth::guard::MetricsScraper` for the token).

use actix_web::{HttpResponse, web};

use crate::auth::guard::MetricsScraper;
use crate::error::AppError;
use crate::metrics::{self, Scraped};
use crate::models::connection::count_by_status;
use crate::state::AppState;

pub async fn scrape(_: MetricsScraper, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let connections = state.db.read(|c| Ok(count_by_status(c)?)).await?;
    let scraped = Scraped {
        connections,
        pools: state.db.pool_usage(),
        waiting: state.db.waiting(),
        cache: state.cache.as_ref().map(|cache| cache.lookups()).unwrap_or_default(),
    };
    let text = metrics::render(&state.metrics, scraped)
        .map_err(|e| AppError::Internal(format!("cannot write the metrics: {e}")))?;
    Ok(HttpResponse::Ok().content_type(metrics::CONTENT_TYPE).body(text))
}
