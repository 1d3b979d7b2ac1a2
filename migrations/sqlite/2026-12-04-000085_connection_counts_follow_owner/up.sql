-- A connection can move to another owner (src/ops/transfer.rs): the per-owner counters of
-- migration 000021 follow it.
CREATE TRIGGER connection_counts_owner AFTER UPDATE OF owner_id ON connections
    WHEN old.owner_id <> new.owner_id BEGIN
    UPDATE connection_counts SET n = n - 1 WHERE owner_id = old.owner_id;
    INSERT INTO connection_counts (owner_id, n) VALUES (new.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET n = n + 1;
END;
