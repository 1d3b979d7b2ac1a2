//! Static files, compiled into the binary so that one file is the whole app, wherever it runs from.

use actix_web::{HttpResponse, web};

use crate::error::AppError;

/// (name, content type, bytes) for everything under `static/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../static/app.js")),
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("../../static/htmx.min.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../static/favicon.svg")),
    ("icons.svg", "image/svg+xml", include_bytes!("../../static/icons.svg")),
];

pub async fn serve_asset(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, content_type, bytes) =
        ASSETS.iter().find(|(n, _, _)| *n == name.as_str()).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().content_type(*content_type).body(*bytes))
}
