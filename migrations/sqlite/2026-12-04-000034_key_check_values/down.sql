ALTER TABLE encryption_key_ids DROP COLUMN check_value;
