//! Settings > Encryption: the encryption keys as the database and this instance see them: each key
//! id, which one is active, how many sealed values it holds, and where the keyring comes from, with
//! the commands that rotate, re-seal and retire. Never a key: the page knows key ids only.

use crate::auth::guard::Admin;
use crate::error::AppError;
use crate::keys::{self, KeySource, KeyUse};
use crate::state::AppState;
use crate::web::{Layout, render};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "settings/encryption.html")]
struct EncryptionPage {
    layout: Layout,
    source: &'static str,
    keys: Vec<KeyUse>,
    /// Sealed values under a key other than the active one.
    under_old_keys: i64,
    total: i64,
}

pub async fn show_encryption(
    req: HttpRequest,
    admin: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let source = KeySource::of(&state.config)?.kind();
    let keyring = state.keyring.clone();
    let overview = state.db.run(move |c| Ok(keys::overview(c, &keyring)?)).await?;
    let page = EncryptionPage {
        layout: Layout::new(&req, Some(&admin.0), "encryption"),
        source,
        keys: overview.keys,
        under_old_keys: overview.under_old_keys,
        total: overview.total,
    };
    render(&req, &page)
}
