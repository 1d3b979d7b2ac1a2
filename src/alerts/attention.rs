//! The "Needs attention" count for the navigation: read from the cache while it hears of every
//! change (any change to a connection, a service or a user clears it) and until the next time a
//! refresh token comes within a week of expiring, else from the database.

use crate::error::AppError;
use crate::models::attention;
use crate::state::AppState;

/// How many connections need attention, everyone's.
pub async fn total(state: &AppState) -> Result<i64, AppError> {
    let (cache, now) = (state.cache.as_deref(), state.clock.now());
    if let Some(n) = cache.and_then(|c| c.attention(now)) {
        return Ok(n);
    }
    let epoch = cache.map(crate::cache::Cache::epoch);
    let (n, until) = state
        .db
        .read(move |c| Ok((attention::count(c, None, now)?, attention::next_change(c, now)?)))
        .await?;
    if let (Some(cache), Some(epoch)) = (cache, epoch) {
        cache.put_attention(n, until, epoch);
    }
    Ok(n)
}

/// How many of `owner`'s connections need attention (the banner of their first page).
pub async fn of_owner(state: &AppState, owner: i64) -> Result<i64, AppError> {
    let now = state.clock.now();
    state.db.read(move |c| Ok(attention::count(c, Some(owner), now)?)).await
}
