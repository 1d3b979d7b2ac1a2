DROP TRIGGER services_connection_count_track ON connections;
DROP FUNCTION services_connection_count_track();
ALTER TABLE services DROP COLUMN connection_count;
