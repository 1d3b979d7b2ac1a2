CREATE TABLE connection_events_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('invoke', 'refresh', 'test')),
    actor TEXT NOT NULL,
    method TEXT,
    host TEXT,
    path TEXT,
    status INTEGER,
    latency_ms BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    message TEXT
);
INSERT INTO connection_events_old
    (id, connection_id, at, kind, actor, method, host, path, status, latency_ms, ok, message)
SELECT id, connection_id, at, kind, actor, method, host, path, status, latency_ms, ok, message
FROM connection_events WHERE kind <> 'proxy';
DROP TABLE connection_events;
ALTER TABLE connection_events_old RENAME TO connection_events;
CREATE INDEX connection_events_recent ON connection_events (connection_id, id);
