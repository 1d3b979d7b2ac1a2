-- Each instance keeps sessions, API tokens and the connections it invokes in memory (src/cache.rs);
-- the triggers of migration 000027 log every change to them in `cache_changes`, which every instance
-- reads: the one that made the change right after its statement (src/cache/changes.rs), the others
-- every few milliseconds (src/cache/poll.rs).
-- A connection's update is logged only for the columns a cached connection holds: its last use, its
-- refresh lease and the time of its last refresh attempt change often and matter to no cached copy.
-- A service's update is logged for everything but its connection counter, which a new connection
-- bumps (that cascade evicted every cached connection of the service). The counters themselves are
-- no longer cached, so they log nothing.
DROP TRIGGER connection_counts_insert_log;
DROP TRIGGER connection_counts_update_log;
DROP TRIGGER service_counts_update_log;

DROP TRIGGER connection_changed_log;
CREATE TRIGGER connection_changed_log AFTER UPDATE OF link_name, name, service_id, owner_id, scopes_requested,
    scopes_granted, status, status_message, connected_at, expires_at, credentials, access_token, refresh_token,
    previous_refresh_token, token_version, refresh_failures, retry_after, revoke_outcome, entrusted_origins
    ON connections BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('c:' || old.link_name, CAST(strftime('%s', 'now') AS INTEGER));
END;
DROP TRIGGER service_changed_log;
CREATE TRIGGER service_changed_log AFTER UPDATE OF link_name, name, description, auth_type, api_base_url, config,
    client_secret, test_request, client_secret_origins, client_refused_at, client_refused_message
    ON services BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('v:' || old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
