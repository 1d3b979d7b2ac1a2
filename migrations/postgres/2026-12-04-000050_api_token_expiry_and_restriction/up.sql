-- API tokens expire (`expires_at`, unix seconds; NULL only when "never" was chosen explicitly, and for
-- tokens made before expiry existed), record the address of their last use, and may be restricted to
-- invoking a list of connections (`restricted`; the list is `api_token_connections`). `restricted`
-- stays true when every listed connection is deleted: such a token may invoke nothing, never everything.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN restricted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_tokens ADD COLUMN last_used_address TEXT;

CREATE TABLE api_token_connections (
    token_id BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, connection_id)
);
CREATE INDEX api_token_connections_connection_id ON api_token_connections (connection_id);

-- Instances cache the tokens they checked (src/cache.rs): a change to what a token may do, or until
-- when, evicts it everywhere, like a revocation.
DROP TRIGGER token_changed ON api_tokens;
CREATE TRIGGER token_changed
    AFTER UPDATE OF revoked_at, token_hash, user_id, expires_at, restricted OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION cache_changed('t', 'token_hash');
