-- How many services there are of each authentication type, kept by a trigger: the list's "of N" without
-- counting every row on every page view (count(*) scans the whole table or index).
CREATE TABLE service_counts (
    auth_type TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO service_counts (auth_type, n)
SELECT t.auth_type, (SELECT COUNT(*) FROM services WHERE services.auth_type = t.auth_type)
FROM (VALUES ('api_key'), ('basic'), ('oauth2')) AS t (auth_type);

CREATE FUNCTION service_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE service_counts SET n = n + 1 WHERE auth_type = NEW.auth_type;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE service_counts SET n = n - 1 WHERE auth_type = OLD.auth_type;
    ELSIF OLD.auth_type <> NEW.auth_type THEN
        -- One statement for both rows, so that concurrent changes lock them in the same order.
        UPDATE service_counts SET n = n + CASE WHEN auth_type = NEW.auth_type THEN 1 ELSE -1 END
        WHERE auth_type IN (OLD.auth_type, NEW.auth_type);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER service_counts_track AFTER INSERT OR DELETE OR UPDATE OF auth_type ON services
    FOR EACH ROW EXECUTE FUNCTION service_counts_track();
