CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE services (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_name TEXT COLLATE "C" NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- lower(name), kept by the app: sorting and searching without a function index.
    name_lower TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    auth_type TEXT NOT NULL CHECK (auth_type IN ('api_key', 'basic', 'oauth2')),
    api_base_url TEXT,
    -- The authentication settings of the type (JSON, never a secret).
    config TEXT NOT NULL,
    -- OAuth2 client secret, sealed (crypto.rs) with AAD services/client_secret/<id>.
    client_secret BYTEA,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX services_name ON services (name_lower, id);
CREATE INDEX services_updated ON services (updated_at, id);
CREATE INDEX services_auth_type ON services (auth_type, name_lower, id);

-- Substring search on name and link name: trigram indexes serve LIKE '%…%'.
CREATE INDEX services_name_trgm ON services USING gin (name_lower gin_trgm_ops);
CREATE INDEX services_link_name_trgm ON services USING gin (link_name gin_trgm_ops);
