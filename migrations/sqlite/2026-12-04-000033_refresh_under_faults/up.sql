-- Refreshes that survive faults (src/ops/access_tokens.rs):
-- - the refresh token a rotation replaced, kept sealed until its successor has been used once, so
--   that a provider's grace window can still be used when the new one is refused;
-- - when the last refresh was attempted, so that an invoke on an expired token may try again after a
--   short gap whatever the background cooldown;
-- - a service whose client credentials the provider refused (invalid_client): its connections keep
--   their tokens, and refreshes wait until the client secret changes.
ALTER TABLE connections ADD COLUMN previous_refresh_token BLOB;
ALTER TABLE connections ADD COLUMN last_refresh_attempt_at BIGINT;
ALTER TABLE services ADD COLUMN client_refused_at BIGINT;
ALTER TABLE services ADD COLUMN client_refused_message TEXT;
