DROP INDEX connections_reconnect_soon_sent;
DROP INDEX connections_refresh_expiry;
ALTER TABLE connections DROP COLUMN reconnect_soon_sent_at;
