-- Each app instance keeps the counters connection lists show (how many connections each owner has,
-- how many services there are) in memory (src/cache.rs). These triggers tell every instance when a
-- counter changes: a connection or a service was added or removed, whoever did it. Once a statement,
-- and NOTIFY sends one of identical payloads a transaction, so a bulk insert notifies once.
CREATE FUNCTION counts_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('connections_sessions', 'n:counts');
    RETURN NULL;
END;
$$;
CREATE TRIGGER connection_counts_notify AFTER INSERT OR UPDATE OR DELETE ON connection_counts
    FOR EACH STATEMENT EXECUTE FUNCTION counts_changed_notify();
CREATE TRIGGER service_counts_notify AFTER INSERT OR UPDATE OR DELETE ON service_counts
    FOR EACH STATEMENT EXECUTE FUNCTION counts_changed_notify();
