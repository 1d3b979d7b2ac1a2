-- Every sort of the connection list can stop after one page: by last update, for one owner (My
-- Connections) and for everyone (All Connections), as by name already.
CREATE INDEX connections_owner_updated ON connections (owner_id, updated_at, id);
CREATE INDEX connections_updated ON connections (updated_at, id);
