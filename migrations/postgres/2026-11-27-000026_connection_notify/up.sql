-- Each app instance keeps the connections it has invoked, with their services, in memory, as it does
-- sessions and tokens (src/cache.rs). These triggers tell every instance when a cached connection
-- must be read again: any change to it (status, credentials, tokens, name, even its last use) or to
-- its service (configuration, API base URL). Its owner's changes already notify (migration 000024).
CREATE TRIGGER connection_changed_notify AFTER UPDATE OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('c', 'link_name');
CREATE TRIGGER service_changed_notify AFTER UPDATE OR DELETE ON services
    FOR EACH ROW EXECUTE FUNCTION auth_cache_notify('v', 'id');
