-- Authorization-code flows in progress: found by the hash of their state, single use, short-lived.
CREATE TABLE oauth_flows (
    state_hash TEXT PRIMARY KEY NOT NULL,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- The browser session that started it, when it started in a browser.
    session_hash TEXT,
    -- Sealed (crypto.rs), AAD oauth_flows/pkce_verifier/<state_hash>.
    pkce_verifier BLOB NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_flows_connection ON oauth_flows (connection_id);
CREATE INDEX oauth_flows_expires ON oauth_flows (expires_at);
