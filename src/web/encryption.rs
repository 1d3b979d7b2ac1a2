//! Settings > Encryption: the encryption keys as the database and this instance see them: each key
//! id, which one is active, how many sealed values it holds, and where the keyring comes from, with
//! the commands that rotate, re-seal and retire. Never a key: the page knows key ids only.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::prelude::*;

use crate::auth::guard::Admin;
use crate::db::schema::encryption_key_ids;
use crate::error::AppError;
use crate::keys::{self, KeySource};
use crate::state::AppState;
use crate::web::{Layout, render, time_or_dash};

/// One key id on the page.
struct KeyRow {
    kid: String,
    active: bool,
    /// This instance holds the key (a key added by `keys rotate` arrives at the next start).
    loaded: bool,
    sealed: i64,
    first_used: String,
}

#[derive(Template)]
#[template(path = "settings/encryption.html")]
struct EncryptionPage {
    layout: Layout,
    source: &'static str,
    keys: Vec<KeyRow>,
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
    let loaded = state.keyring.kids();
    let active = state.keyring.active_kid();
    let (recorded, census) = state
        .db
        .run(move |c| {
            let recorded: Vec<(String, i64)> = encryption_key_ids::table
                .select((encryption_key_ids::kid, encryption_key_ids::first_used_at))
                .order(encryption_key_ids::first_used_at.desc())
                .load(c)?;
            let mut kids = loaded;
            let unloaded: Vec<String> =
                recorded.iter().map(|(kid, _)| kid.clone()).filter(|kid| !kids.contains(kid)).collect();
            kids.extend(unloaded);
            let census = keys::census(c, &kids)?;
            Ok::<_, AppError>((recorded, census))
        })
        .await?;
    let first_used = |kid: &str| time_or_dash(&recorded.iter().find(|(k, _)| k == kid).map(|(_, at)| *at));
    let keys = census
        .by_kid
        .iter()
        .map(|(kid, sealed)| KeyRow {
            active: *kid == active,
            loaded: state.keyring.has_kid(kid),
            sealed: *sealed,
            first_used: first_used(kid),
            kid: kid.clone(),
        })
        .collect();
    let page = EncryptionPage {
        layout: Layout::new(&req, Some(&admin.0), "encryption"),
        source,
        keys,
        under_old_keys: census.total - census.count(&active),
        total: census.total,
    };
    render(&req, &page)
}
