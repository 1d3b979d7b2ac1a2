-- Each service's number of connections, kept by a trigger: the services list shows it on every row,
-- and counting each row's connections on every page view was half of the page query's work.
-- (A connection never moves to another service.)
ALTER TABLE services ADD COLUMN connection_count BIGINT NOT NULL DEFAULT 0;
UPDATE services SET connection_count = (SELECT COUNT(*) FROM connections WHERE connections.service_id = services.id);

CREATE FUNCTION services_connection_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE services SET connection_count = connection_count + 1 WHERE id = NEW.service_id;
    ELSE
        UPDATE services SET connection_count = connection_count - 1 WHERE id = OLD.service_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER services_connection_count_track AFTER INSERT OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION services_connection_count_track();
