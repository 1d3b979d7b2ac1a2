-- When a connection's refresh token expires, as the provider said (`refresh_token_expires_in`:
-- GitHub, Google in testing mode, Box, Xero): the connection's page says "Reconnect soon" a week
-- before. NULL: the provider did not say.
ALTER TABLE connections ADD COLUMN refresh_expires_at BIGINT;
