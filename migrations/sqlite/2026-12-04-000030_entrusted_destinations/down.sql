DROP TABLE used_nonces;
ALTER TABLE services DROP COLUMN client_secret_origins;
ALTER TABLE connections DROP COLUMN entrusted_origins;
