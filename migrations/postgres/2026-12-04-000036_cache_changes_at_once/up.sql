-- Each instance keeps sessions, API tokens and the connections it invokes in memory (src/cache.rs).
-- Every change to them is reported by one trigger function, in two ways:
-- - NOTIFY on the channel `connections_cache`, which every instance's listener hears at commit
--   (src/cache/listen.rs);
-- - appended to the session setting `connections.changes`, which the instance that made the change
--   reads after its statement (src/cache/changes.rs), so that the change takes effect there at once,
--   whatever code made it. A rolled-back transaction undoes the setting too.
-- A connection's update fires only for the columns a cached connection holds: its last use, its refresh
-- lease and the time of its last refresh attempt change often and matter to no cached copy. A
-- service's update fires for everything but its connection counter, which a new connection bumps (that
-- cascade evicted every cached connection of the service). The counters themselves are no longer
-- cached, so they notify nobody.
DROP TRIGGER connection_counts_notify ON connection_counts;
DROP TRIGGER service_counts_notify ON service_counts;
DROP FUNCTION counts_changed_notify();

DROP TRIGGER session_gone_notify ON sessions;
DROP TRIGGER session_user_changed_notify ON users;
DROP TRIGGER token_gone_notify ON api_tokens;
DROP TRIGGER connection_changed_notify ON connections;
DROP TRIGGER service_changed_notify ON services;
DROP FUNCTION auth_cache_notify();

-- The payload is `<kind>:<value of the named column of the old row>`: `s:<session id hash>`,
-- `u:<user id>`, `t:<token hash>`, `c:<connection link name>`, `v:<service id>`.
CREATE FUNCTION cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text := TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]);
BEGIN
    PERFORM pg_notify('connections_cache', payload);
    PERFORM set_config('connections.changes', coalesce(current_setting('connections.changes', true), '') || payload || E'\n', false);
    RETURN NULL;
END;
$$;
-- What this session's statements reported since the last call, which empties it.
CREATE FUNCTION take_cache_changes() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    taken text := current_setting('connections.changes', true);
BEGIN
    PERFORM set_config('connections.changes', '', false);
    RETURN taken;
END;
$$;
COMMENT ON FUNCTION cache_changed() IS
    'Reports a change to a cached entry: NOTIFY connections_cache, and the session setting connections.changes (src/cache/changes.rs).';

CREATE TRIGGER session_gone_changed AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION cache_changed('s', 'id_hash');
CREATE TRIGGER user_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION cache_changed('u', 'id');
CREATE TRIGGER token_changed AFTER UPDATE OF revoked_at, token_hash, user_id OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION cache_changed('t', 'token_hash');
CREATE TRIGGER connection_changed AFTER UPDATE OF link_name, name, service_id, owner_id, scopes_requested,
    scopes_granted, status, status_message, connected_at, expires_at, credentials, access_token, refresh_token,
    previous_refresh_token, token_version, refresh_failures, retry_after, revoke_outcome, entrusted_origins
    OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION cache_changed('c', 'link_name');
CREATE TRIGGER service_changed AFTER UPDATE OF link_name, name, description, auth_type, api_base_url, config,
    client_secret, test_request, client_secret_origins, client_refused_at, client_refused_message
    OR DELETE ON services
    FOR EACH ROW EXECUTE FUNCTION cache_changed('v', 'id');
