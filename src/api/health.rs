//! Liveness and readiness probes. `/healthz` touches nothing: not the database, nor anything that
//! could wait for it (it is also the benchmark baseline). `/readyz` asks the database, for at most
//! `READY_WITHIN`, and answers 503 when it does not answer.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::error::AppError;
use crate::state::AppState;

/// How long `/readyz` waits for the database.
const READY_WITHIN: Duration = Duration::from_secs(2);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.run_within(READY_WITHIN, |conn| Ok(conn.batch_execute("SELECT 1")?)).await?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"))
}
