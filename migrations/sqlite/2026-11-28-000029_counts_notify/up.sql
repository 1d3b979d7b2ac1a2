-- Each app instance keeps the counters the lists show (how many connections each owner has, how many
-- services there are) in memory (src/cache.rs). These triggers log a change to a counter (a
-- connection or a service was added or removed, whoever did it) to `cache_changes`, which every
-- instance reads (migration 000027). The counting triggers (migrations 000020 and 000021) only insert
-- and update counter rows. One row whatever the number of changes: it is replaced, by a DELETE and an
-- INSERT rather than INSERT OR REPLACE, because the upsert that changes a connection counter would
-- impose its own conflict handling on the INSERT (a unique violation).
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
