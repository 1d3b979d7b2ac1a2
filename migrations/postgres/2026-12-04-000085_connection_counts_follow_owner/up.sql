-- A connection can move to another owner (src/ops/transfer.rs): the per-owner counters of
-- migration 000021 follow it.
CREATE FUNCTION connection_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE connection_counts SET n = n - 1 WHERE owner_id = OLD.owner_id;
    INSERT INTO connection_counts (owner_id, n) VALUES (NEW.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET n = connection_counts.n + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER connection_counts_owner AFTER UPDATE OF owner_id ON connections
    FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id)
    EXECUTE FUNCTION connection_counts_move();
