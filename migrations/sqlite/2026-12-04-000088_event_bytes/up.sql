-- Proxy calls are recorded as events of their own kind, and every call with the bytes it sent and
-- received (request and answer bodies as they crossed; empty for events that carry no request and
-- for those recorded before). SQLite cannot change a CHECK constraint in place: the table is built
-- again with the same rows and ids.
CREATE TABLE connection_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('invoke', 'refresh', 'test', 'proxy')),
    actor TEXT NOT NULL,
    method TEXT,
    host TEXT,
    path TEXT,
    status INTEGER,
    latency_ms BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    message TEXT,
    request_bytes BIGINT,
    response_bytes BIGINT
);
INSERT INTO connection_events_new
    (id, connection_id, at, kind, actor, method, host, path, status, latency_ms, ok, message)
SELECT id, connection_id, at, kind, actor, method, host, path, status, latency_ms, ok, message
FROM connection_events;
DROP TABLE connection_events;
ALTER TABLE connection_events_new RENAME TO connection_events;
CREATE INDEX connection_events_recent ON connection_events (connection_id, id);
