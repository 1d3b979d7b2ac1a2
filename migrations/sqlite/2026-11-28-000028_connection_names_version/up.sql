-- Bumped whenever a connection is added, removed or renamed: each instance's in-memory name index
-- (src/search.rs) compares it with its own before every search, and loads again when they differ.
CREATE TABLE connection_names_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    v BIGINT NOT NULL
);
INSERT INTO connection_names_version (id, v) VALUES (1, 0);
CREATE TRIGGER connection_names_version_insert AFTER INSERT ON connections BEGIN
    UPDATE connection_names_version SET v = v + 1 WHERE id = 1;
END;
CREATE TRIGGER connection_names_version_delete AFTER DELETE ON connections BEGIN
    UPDATE connection_names_version SET v = v + 1 WHERE id = 1;
END;
CREATE TRIGGER connection_names_version_update AFTER UPDATE OF name_lower, link_name, owner_id ON connections BEGIN
    UPDATE connection_names_version SET v = v + 1 WHERE id = 1;
END;
