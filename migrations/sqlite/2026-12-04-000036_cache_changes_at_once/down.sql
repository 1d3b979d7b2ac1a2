DROP TRIGGER service_changed_log;
CREATE TRIGGER service_changed_log AFTER UPDATE ON services BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('v:' || old.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
DROP TRIGGER connection_changed_log;
CREATE TRIGGER connection_changed_log AFTER UPDATE ON connections BEGIN
    INSERT OR REPLACE INTO cache_changes (payload, at) VALUES ('c:' || old.link_name, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER connection_counts_insert_log AFTER INSERT ON connection_counts BEGIN
    DELETE FROM cache_changes WHERE payload = 'n:counts';
    INSERT INTO cache_changes (payload, at) VALUES ('n:counts', CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER connection_counts_update_log AFTER UPDATE ON connection_counts BEGIN
    DELETE FROM cache_changes WHERE payload = 'n:counts';
    INSERT INTO cache_changes (payload, at) VALUES ('n:counts', CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER service_counts_update_log AFTER UPDATE ON service_counts BEGIN
    DELETE FROM cache_changes WHERE payload = 'n:counts';
    INSERT INTO cache_changes (payload, at) VALUES ('n:counts', CAST(strftime('%s', 'now') AS INTEGER));
END;
