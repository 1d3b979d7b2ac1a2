-- A check value per key id: a known plaintext sealed under that key, for its own slot
-- (encryption_key_ids / check_value / kid). At start-up each configured key must open its id's check
-- value, so a different key under a recorded id is refused (see src/keys.rs). Filled at start-up for
-- the key ids recorded before it existed.
ALTER TABLE encryption_key_ids ADD COLUMN check_value BLOB;
