-- Each app instance keeps the sessions, API tokens, connections and service labels it has read in
-- memory (src/cache.rs). On PostgreSQL, triggers tell every instance what changed with NOTIFY
-- (migrations 000024 to 000026); SQLite has no NOTIFY, so these triggers write the same payloads
-- to this table, and every instance sharing the file reads the rows it has not seen every few
-- milliseconds (src/cache/poll.rs).
--
-- One row per payload: a payload that changes again is replaced, with a new, higher id, so a bulk
-- change (100,000 connections added to one service) leaves one row, not 100,000. `at` lets old rows
-- be removed; it is written with strftime rather than unixepoch() so that an older sqlite3 shell
-- (before 3.38) can still change these tables.
CREATE TABLE cache_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL
);
CREATE INDEX cache_changes_at ON cache_changes (at);

CREATE TRIGGER session_gone_log AFTER DELETE ON sessions BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('s:' || old.id_hash, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER user_changed_log AFTER UPDATE ON users BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('u:' || old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER user_gone_log AFTER DELETE ON users BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('u:' || old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER token_changed_log AFTER UPDATE OF revoked_at, token_hash, user_id ON api_tokens BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('t:' || old.token_hash, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER token_gone_log AFTER DELETE ON api_tokens BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('t:' || old.token_hash, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER connection_changed_log AFTER UPDATE ON connections BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('c:' || old.link_name, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER connection_gone_log AFTER DELETE ON connections BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('c:' || old.link_name, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER service_changed_log AFTER UPDATE ON services BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('v:' || old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER service_gone_log AFTER DELETE ON services BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('v:' || old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
