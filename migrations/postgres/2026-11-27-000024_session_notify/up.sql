-- Each app instance keeps the sessions it has checked in memory, to spare a statement per request
-- (src/auth/cache.rs). These triggers tell every instance at once when a cached session must
-- not be used any more: it ended (sign-out, expiry, a password change), or its user changed (role,
-- disabled, removed). NOTIFY is delivered at commit, to every listening instance.
CREATE FUNCTION session_gone_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('connections_sessions', 's:' || OLD.id_hash);
    RETURN NULL;
END;
$$;
CREATE TRIGGER session_gone_notify AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION session_gone_notify();

CREATE FUNCTION session_user_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('connections_sessions', 'u:' || OLD.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER session_user_changed_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION session_user_changed_notify();
