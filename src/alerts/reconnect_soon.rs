//! `connection.reconnect_soon`: sent once per connection when its refresh token comes within a week
//! of expiring (`domain::reconnect_soon`), by the database upkeep every instance runs. The
//! connection's `reconnect_soon_sent_at` is the claim, written in the transaction that queues the
//! deliveries, so a restart or a second instance sends nothing twice; a reconnect clears it, and so
//! does a sweep that finds the token no longer within the week (a refresh that brought a later
//! expiry), so the next time counts again.

use crate::alerts::events;
use crate::db::{Db, DbConn, write_tx};
use crate::domain::reconnect_soon::RECONNECT_SOON_SECS;
use crate::error::AppError;
use crate::models::connection as connections;

/// Connections claimed per transaction.
const BATCH: i64 = 200;

/// One batch at `now`: re-arms the connections that left the week, claims those that entered it
/// and queues their event; returns how many were claimed.
pub fn sweep_batch(conn: &mut DbConn, now: i64) -> Result<usize, AppError> {
    let soon = now + RECONNECT_SOON_SECS;
    write_tx(conn, |c| {
        connections::rearm_reconnect_soon(c, soon)?;
        let claimed = connections::claim_reconnect_soon(c, soon, now, BATCH)?;
        for id in &claimed {
            events::reconnect_soon(c, *id, now)?;
        }
        Ok(claimed.len())
    })
}

/// Every connection that entered the week at `now`, a batch at a time; returns how many.
pub async fn sweep(db: &Db, now: i64) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let claimed = db.run(move |c| sweep_batch(c, now)).await?;
        total += claimed;
        if claimed < BATCH as usize {
            return Ok(total);
        }
    }
}
