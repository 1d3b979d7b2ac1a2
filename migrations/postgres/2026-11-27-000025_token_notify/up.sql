-- Each app instance keeps the API tokens it has checked in memory, as it does sessions
-- (src/cache.rs). This trigger tells every instance when a cached token must not be used any
-- more: it was revoked or deleted. (Its user's changes already notify, see migration 000024.)
CREATE TRIGGER token_gone_notify AFTER UPDATE OF revoked_at, token_hash, user_id OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('t', 'token_hash');
