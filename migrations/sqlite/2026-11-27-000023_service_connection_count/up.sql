-- Each service's number of connections, kept by triggers: the services list shows it on every row,
-- and counting each row's connections on every page view was half of the page query's work.
-- (A connection never moves to another service.)
ALTER TABLE services ADD COLUMN connection_count INTEGER NOT NULL DEFAULT 0;
UPDATE services SET connection_count = (SELECT COUNT(*) FROM connections WHERE connections.service_id = services.id);
CREATE TRIGGER services_connection_count_insert AFTER INSERT ON connections BEGIN
    UPDATE services SET connection_count = connection_count + 1 WHERE id = new.service_id;
END;
CREATE TRIGGER services_connection_count_delete AFTER DELETE ON connections BEGIN
    UPDATE services SET connection_count = connection_count - 1 WHERE id = old.service_id;
END;
