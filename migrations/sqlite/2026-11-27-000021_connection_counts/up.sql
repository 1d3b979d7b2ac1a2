-- How many connections each user owns, kept by triggers: My Connections' and All Connections' "of N"
-- without counting every row on every page view. (Owners never change.)
CREATE TABLE connection_counts (
    owner_id BIGINT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO connection_counts (owner_id, n) SELECT owner_id, COUNT(*) FROM connections GROUP BY owner_id;

CREATE TRIGGER connection_counts_insert AFTER INSERT ON connections BEGIN
    INSERT INTO connection_counts (owner_id, n) VALUES (new.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER connection_counts_delete AFTER DELETE ON connections BEGIN
    UPDATE connection_counts SET n = n - 1 WHERE owner_id = old.owner_id;
END;
