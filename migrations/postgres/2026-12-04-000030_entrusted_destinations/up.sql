-- The origins a connection's secrets were entrusted to when it was connected, and those a service's
-- client secret was entrusted to when it was set (JSON objects by role, see src/domain/destinations.rs):
-- a secret is sent only to one of them. Filled for existing rows at start-up.
ALTER TABLE connections ADD COLUMN entrusted_origins TEXT;
ALTER TABLE services ADD COLUMN client_secret_origins TEXT;

-- Single-use values (the connect links' nonces), kept until they expire.
CREATE TABLE used_nonces (
    hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
