-- Webhook endpoints (Settings > Notifications) and the deliveries queued for them
-- (src/alerts/webhooks.rs). A delivery is written with the change that caused it, or right after;
-- any instance's worker claims due rows with a lease (lease_holder, lease_until), so instances
-- sharing the database never send one twice at once and a restart loses none.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The events it wants, a JSON array of names.
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    -- The signing secret (whsec_…), sealed for webhook_endpoints / secret / id.
    secret BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The webhook-id header: the same on every attempt, so a receiver can drop a duplicate.
    message_id TEXT NOT NULL,
    event TEXT NOT NULL,
    -- The JSON body, exactly as signed and sent.
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_holder TEXT,
    lease_until BIGINT,
    last_status INTEGER,
    last_error TEXT,
    -- At most 1 KB of the receiver's last answer.
    response_excerpt TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The worker's work list, soonest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
