ALTER TABLE services DROP COLUMN client_secret_pending;
