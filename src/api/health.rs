//! Liveness and readiness probes. `/healthz` touches nothing (it is also the benchmark baseline);
//! `/readyz` asks the database.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::app::AppState;
use crate::error::AppError;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"))
}
