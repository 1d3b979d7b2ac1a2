//! What the users API answers fits its documented schemas.

use serde_json::json;

use super::{assert_fits, fetch_document};
use crate::support::{Api, TestApp};

#[tokio::test]
async fn what_the_users_api_answers_fits_the_documented_schemas() {
    let app = TestApp::spawn().await;
    let doc = fetch_document(&app).await;
    let api = Api::admin(&app).await;

    let input = json!({ "username": "erin", "role": "sdadmin" });
    assert_fits(&doc, "UserInput", &input);
    let res = api.post("/api/v1/users", &input).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_fits(&doc, "CreatedUser", &res.json());
    let typed = json!({ "username": "fay", "role": "technician", "password": "fay-typed-password" });
    assert_fits(&doc, "UserInput", &typed);
    assert_fits(&doc, "CreatedUser", &api.post("/api/v1/users", &typed).await.json());

    assert_fits(&doc, "UserList", &api.get("/api/v1/users").await.json());
    assert_fits(&doc, "User", &api.get("/api/v1/users/erin").await.json());
    let changes = json!({ "role": "technician", "disabled": true });
    assert_fits(&doc, "UserChanges", &changes);
    let res = api.patch("/api/v1/users/erin", &changes).await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "User", &res.json());

    let reset = json!({ "keep_tokens": true });
    assert_fits(&doc, "PasswordReset", &reset);
    let res = api.post("/api/v1/users/fay/reset-password", &reset).await;
    assert_eq!(res.status, 200);
    assert_fits(&doc, "PasswordResetDone", &res.json());

    let res = api.patch("/api/v1/users/admin", &json!({ "disabled": true })).await;
    assert_eq!(res.status, 409);
    assert_fits(&doc, "Error", &res.json());
    let res = api.post("/api/v1/users", &json!({ "username": "bad name", "role": "sdadmin" })).await;
    assert_eq!(res.status, 422);
    assert_fits(&doc, "ValidationError", &res.json());
    assert_eq!(api.delete("/api/v1/users/fay").await.status, 204);
}
