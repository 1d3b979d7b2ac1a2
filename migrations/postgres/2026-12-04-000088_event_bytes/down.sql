ALTER TABLE connection_events DROP COLUMN response_bytes;
ALTER TABLE connection_events DROP COLUMN request_bytes;
DELETE FROM connection_events WHERE kind = 'proxy';
ALTER TABLE connection_events DROP CONSTRAINT connection_events_kind_check;
ALTER TABLE connection_events ADD CONSTRAINT connection_events_kind_check
    CHECK (kind IN ('invoke', 'refresh', 'test'));
