-- What happened to a connection: invokes, refreshes, tests and their errors (never a secret).
CREATE TABLE connection_events (
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
CREATE INDEX connection_events_recent ON connection_events (connection_id, id);
