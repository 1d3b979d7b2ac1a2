-- Proxy calls are recorded as events of their own kind, and every call with the bytes it sent and
-- received (request and answer bodies as they crossed; empty for events that carry no request and
-- for those recorded before).
ALTER TABLE connection_events DROP CONSTRAINT connection_events_kind_check;
ALTER TABLE connection_events ADD CONSTRAINT connection_events_kind_check
    CHECK (kind IN ('invoke', 'refresh', 'test', 'proxy'));
ALTER TABLE connection_events ADD COLUMN request_bytes BIGINT;
ALTER TABLE connection_events ADD COLUMN response_bytes BIGINT;
