-- How many services there are of each authentication type, kept by triggers: the list's "of N" without
-- counting every row on every page view (PostgreSQL counts by scanning).
CREATE TABLE service_counts (
    auth_type TEXT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO service_counts (auth_type, n)
SELECT t.auth_type, (SELECT COUNT(*) FROM services WHERE services.auth_type = t.auth_type)
FROM (SELECT 'api_key' AS auth_type UNION ALL SELECT 'basic' UNION ALL SELECT 'oauth2') AS t;

CREATE TRIGGER service_counts_insert AFTER INSERT ON services BEGIN
    UPDATE service_counts SET n = n + 1 WHERE auth_type = new.auth_type;
END;
CREATE TRIGGER service_counts_delete AFTER DELETE ON services BEGIN
    UPDATE service_counts SET n = n - 1 WHERE auth_type = old.auth_type;
END;
CREATE TRIGGER service_counts_update AFTER UPDATE OF auth_type ON services WHEN old.auth_type <> new.auth_type BEGIN
    UPDATE service_counts SET n = n + CASE WHEN auth_type = new.auth_type THEN 1 ELSE -1 END
    WHERE auth_type IN (old.auth_type, new.auth_type);
END;
