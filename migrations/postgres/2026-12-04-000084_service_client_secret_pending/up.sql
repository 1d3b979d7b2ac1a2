-- A service imported from a definitions file (src/ops/service_io.rs) has no client secret: the
-- format never carries one. When the exported service had one, or its grant cannot work without one,
-- the service is marked so that its page asks for the secret; entering it (or leaving OAuth2) clears
-- the mark.
ALTER TABLE services ADD COLUMN client_secret_pending BOOLEAN NOT NULL DEFAULT FALSE;
