//! `GET /api/v1/me`: who the API token belongs to (lets a script check its token).

use actix_web::HttpResponse;

use crate::auth::guard::ApiAdmin;

pub async fn show_me(ApiAdmin(user): ApiAdmin) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "username": user.username, "role": user.role().as_str() }))
}
