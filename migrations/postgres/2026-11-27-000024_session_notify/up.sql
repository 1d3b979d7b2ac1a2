-- Each app instance keeps the sessions it has checked in memory, to spare a statement per request
-- (src/cache.rs). These triggers tell every instance at once when a cached session must not be
-- used any more: it ended (sign-out, expiry, a password change), or its user changed (role, disabled,
-- removed). NOTIFY is delivered at commit, to every listening instance.
--
-- One function for every such trigger: its arguments are the payload's prefix and the column of the
-- old row that names the entry (`s:<session id hash>`, `u:<user id>`, ...).
CREATE FUNCTION auth_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('connections_sessions', TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]));
    RETURN NULL;
END;
$$;
CREATE TRIGGER session_gone_notify AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('s', 'id_hash');
CREATE TRIGGER session_user_changed_notify AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('u', 'id');
