-- Bumped whenever a connection is added, removed or renamed: each instance's in-memory name index
-- (src/search.rs) compares it with its own before every search, and loads again when they differ.
-- Once a statement, so that a bulk insert bumps it once.
CREATE TABLE connection_names_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    v BIGINT NOT NULL
);
INSERT INTO connection_names_version (id, v) VALUES (1, 0);
CREATE FUNCTION connection_names_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE connection_names_version SET v = v + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER connection_names_version_changed
    AFTER INSERT OR DELETE OR UPDATE OF name_lower, link_name, owner_id ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION connection_names_changed();
