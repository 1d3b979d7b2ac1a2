DROP TRIGGER services_connection_count_delete;
DROP TRIGGER services_connection_count_insert;
ALTER TABLE services DROP COLUMN connection_count;
