DROP INDEX connections_owner_status;
DROP INDEX connections_updated;
DROP INDEX connections_owner_updated;
