DROP TRIGGER service_counts_update;
DROP TRIGGER service_counts_delete;
DROP TRIGGER service_counts_insert;
DROP TABLE service_counts;
