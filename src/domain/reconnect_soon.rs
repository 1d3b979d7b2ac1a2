//! "Reconnect soon": a connected connection whose refresh token expires within a week. Refreshes
//! cannot extend such a token, only its owner reconnecting can; the lists, the connection's page,
//! "Needs attention" and the `connection.reconnect_soon` event all follow this one rule (the SQL of
//! `models::attention` writes it again, with the same constant).

use super::connection::Status;

/// A refresh token that expires within this many seconds: its owner should reconnect soon.
pub const RECONNECT_SOON_SECS: i64 = 7 * 86_400;

const DAY: i64 = 86_400;

/// Seconds until the refresh token expires (0 or less: it has), when the connection should be
/// reconnected soon; `None` otherwise.
pub fn left(status: Status, refresh_expires_at: Option<i64>, now: i64) -> Option<i64> {
    let at = refresh_expires_at.filter(|_| status == Status::Connected)?;
    (at - now <= RECONNECT_SOON_SECS).then_some(at - now)
}

/// The reason as pages show it, from `left`'s seconds: whole days, rounded down.
pub fn reason(left: i64) -> String {
    match left {
        ..=0 => "Refresh token expired — reconnect".into(),
        1..DAY => "Refresh token expires within a day — reconnect".into(),
        _ if left / DAY == 1 => "Refresh token expires in 1 day — reconnect".into(),
        _ => format!("Refresh token expires in {} days — reconnect", left / DAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn only_a_connected_connection_within_the_week_should_reconnect_soon() {
        let connected = |at| left(Status::Connected, at, NOW);
        assert_eq!(connected(None), None);
        assert_eq!(connected(Some(NOW + RECONNECT_SOON_SECS + 1)), None);
        assert_eq!(connected(Some(NOW + RECONNECT_SOON_SECS)), Some(RECONNECT_SOON_SECS));
        assert_eq!(connected(Some(NOW - 5)), Some(-5), "expired, and still to be reconnected");
        for status in [Status::NotConnected, Status::Disconnected, Status::NeedsReconnect] {
            assert_eq!(left(status, Some(NOW + DAY), NOW), None, "{status:?}");
        }
    }

    #[test]
    fn the_reason_counts_whole_days() {
        assert_eq!(reason(3 * DAY), "Refresh token expires in 3 days — reconnect");
        assert_eq!(reason(3 * DAY - 1), "Refresh token expires in 2 days — reconnect");
        assert_eq!(reason(DAY + 5), "Refresh token expires in 1 day — reconnect");
        assert_eq!(reason(DAY - 1), "Refresh token expires within a day — reconnect");
        assert_eq!(reason(0), "Refresh token expired — reconnect");
        assert_eq!(reason(-DAY), "Refresh token expired — reconnect");
    }
}
