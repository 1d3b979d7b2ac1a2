CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    link_name TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- lower(name), kept by the app: sorting and searching without a function index.
    name_lower TEXT NOT NULL,
    description TEXT NOT NULL,
    auth_type TEXT NOT NULL CHECK (auth_type IN ('api_key', 'basic', 'oauth2')),
    api_base_url TEXT,
    -- The authentication settings of the type (JSON, never a secret).
    config TEXT NOT NULL,
    -- OAuth2 client secret, sealed (crypto.rs) with AAD services/client_secret/<id>.
    client_secret BLOB,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX services_name ON services (name_lower, id);
CREATE INDEX services_updated ON services (updated_at, id);
CREATE INDEX services_auth_type ON services (auth_type, name_lower, id);

-- Substring search on name and link name: a trigram index, kept in step by triggers.
CREATE VIRTUAL TABLE services_fts USING fts5 (
    name, link_name, content = 'services', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER services_fts_insert AFTER INSERT ON services BEGIN
    INSERT INTO services_fts (rowid, name, link_name) VALUES (new.id, new.name, new.link_name);
END;
CREATE TRIGGER services_fts_delete AFTER DELETE ON services BEGIN
    INSERT INTO services_fts (services_fts, rowid, name, link_name) VALUES ('delete', old.id, old.name, old.link_name);
END;
CREATE TRIGGER services_fts_update AFTER UPDATE OF name, link_name ON services BEGIN
    INSERT INTO services_fts (services_fts, rowid, name, link_name) VALUES ('delete', old.id, old.name, old.link_name);
    INSERT INTO services_fts (rowid, name, link_name) VALUES (new.id, new.name, new.link_name);
END;
