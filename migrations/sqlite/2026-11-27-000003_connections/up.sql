CREATE TABLE connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    link_name TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    -- RESTRICT: a service with connections cannot be deleted, so no connection is ever orphaned.
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE RESTRICT,
    owner_id BIGINT NOT NULL REFERENCES users (id),
    scopes_requested TEXT NOT NULL,
    scopes_granted TEXT,
    status TEXT NOT NULL CHECK (status IN ('not_connected', 'connected', 'disconnected', 'needs_reconnect')),
    status_message TEXT,
    connected_at BIGINT,
    expires_at BIGINT,
    -- Sealed secrets (crypto.rs), AAD connections/<column>/<id>.
    credentials BLOB,
    access_token BLOB,
    refresh_token BLOB,
    -- Bumped on every credential change: a refresh stores its result only if nothing changed meanwhile.
    token_version BIGINT NOT NULL DEFAULT 0,
    lease_holder TEXT,
    lease_until BIGINT,
    refresh_failures INTEGER NOT NULL DEFAULT 0,
    retry_after BIGINT,
    last_refresh_at BIGINT,
    last_used_at BIGINT,
    revoke_outcome TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX connections_name ON connections (name_lower, id);
CREATE INDEX connections_service ON connections (service_id, name_lower, id);
CREATE INDEX connections_owner ON connections (owner_id, name_lower, id);
CREATE INDEX connections_status ON connections (status, name_lower, id);
CREATE INDEX connections_expiry ON connections (expires_at) WHERE status = 'connected';

CREATE VIRTUAL TABLE connections_fts USING fts5 (
    name, link_name, content = 'connections', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER connections_fts_insert AFTER INSERT ON connections BEGIN
    INSERT INTO connections_fts (rowid, name, link_name) VALUES (new.id, new.name, new.link_name);
END;
CREATE TRIGGER connections_fts_delete AFTER DELETE ON connections BEGIN
    INSERT INTO connections_fts (connections_fts, rowid, name, link_name) VALUES ('delete', old.id, old.name, old.link_name);
END;
CREATE TRIGGER connections_fts_update AFTER UPDATE OF name, link_name ON connections BEGIN
    INSERT INTO connections_fts (connections_fts, rowid, name, link_name) VALUES ('delete', old.id, old.name, old.link_name);
    INSERT INTO connections_fts (rowid, name, link_name) VALUES (new.id, new.name, new.link_name);
END;
