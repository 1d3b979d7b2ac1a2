DROP TRIGGER token_changed_log;
CREATE TRIGGER token_changed_log AFTER UPDATE OF revoked_at, token_hash, user_id ON api_tokens BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('t:' || old.token_hash, CAST(strftime('%s', 'now') AS INTEGER));
END;
DROP TABLE api_token_connections;
ALTER TABLE api_tokens DROP COLUMN last_used_address;
ALTER TABLE api_tokens DROP COLUMN restricted;
ALTER TABLE api_tokens DROP COLUMN expires_at;
