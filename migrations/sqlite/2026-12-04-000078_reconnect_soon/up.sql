-- "Reconnect soon" (src/domain/reconnect_soon.rs): a connected connection whose refresh token expires
-- within 7 days needs attention, and the endpoints that want it hear connection.reconnect_soon once.
-- When that event was queued for the connection's current refresh token: the sweep
-- (src/alerts/reconnect_soon.rs) claims a connection by setting it, so a restart or a second instance
-- sends nothing twice; a reconnect, or a token that leaves the 7 days, clears it.
ALTER TABLE connections ADD COLUMN reconnect_soon_sent_at BIGINT;
-- The connections with a refresh token expiry, by status then expiry: the attention counts and filter,
-- the sweep, and the next time one enters the 7 days (when the navigation's cached count goes stale)
-- read the connected ones' range. Led by the status, so that a planner without statistics prefers it to
-- the index on the status alone.
CREATE INDEX connections_refresh_expiry ON connections (status, refresh_expires_at)
    WHERE refresh_expires_at IS NOT NULL;
-- The few connections the event was sent for, which the sweep re-arms once they leave the 7 days.
CREATE INDEX connections_reconnect_soon_sent ON connections (reconnect_soon_sent_at)
    WHERE reconnect_soon_sent_at IS NOT NULL;
