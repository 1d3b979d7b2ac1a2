DROP TRIGGER token_changed ON api_tokens;
CREATE TRIGGER token_changed AFTER UPDATE OF revoked_at, token_hash, user_id OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION cache_changed('t', 'token_hash');
DROP TABLE api_token_connections;
ALTER TABLE api_tokens DROP COLUMN last_used_address;
ALTER TABLE api_tokens DROP COLUMN restricted;
ALTER TABLE api_tokens DROP COLUMN expires_at;
