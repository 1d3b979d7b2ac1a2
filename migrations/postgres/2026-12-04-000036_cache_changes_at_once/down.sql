DROP TRIGGER session_gone_changed ON sessions;
DROP TRIGGER user_changed ON users;
DROP TRIGGER token_changed ON api_tokens;
DROP TRIGGER connection_changed ON connections;
DROP TRIGGER service_changed ON services;
DROP FUNCTION cache_changed();
DROP FUNCTION take_cache_changes();

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
CREATE TRIGGER token_gone_notify AFTER UPDATE OF revoked_at, token_hash, user_id OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('t', 'token_hash');
CREATE TRIGGER connection_changed_notify AFTER UPDATE OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('c', 'link_name');
CREATE TRIGGER service_changed_notify AFTER UPDATE OR DELETE ON services
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('v', 'id');

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
