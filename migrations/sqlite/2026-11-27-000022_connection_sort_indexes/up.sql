-- Every sort and status filter of the connection list can stop after one page: by last update, for
-- one owner (My Connections) and for everyone (All Connections), and by status for one owner, as the
-- other combinations could already.
CREATE INDEX connections_owner_updated ON connections (owner_id, updated_at, id);
CREATE INDEX connections_updated ON connections (updated_at, id);
CREATE INDEX connections_owner_status ON connections (owner_id, status, name_lower, id);
