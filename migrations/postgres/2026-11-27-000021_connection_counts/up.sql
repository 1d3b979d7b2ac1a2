-- How many connections each user owns, kept by a trigger: My Connections' and All Connections' "of N"
-- without counting every row on every page view. (Owners never change.)
CREATE TABLE connection_counts (
    owner_id BIGINT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO connection_counts (owner_id, n) SELECT owner_id, COUNT(*) FROM connections GROUP BY owner_id;

CREATE FUNCTION connection_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO connection_counts (owner_id, n) VALUES (NEW.owner_id, 1)
            ON CONFLICT (owner_id) DO UPDATE SET n = connection_counts.n + 1;
    ELSE
        UPDATE connection_counts SET n = n - 1 WHERE owner_id = OLD.owner_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER connection_counts_track AFTER INSERT OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION connection_counts_track();
