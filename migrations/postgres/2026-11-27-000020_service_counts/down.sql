DROP TRIGGER service_counts_track ON services;
DROP FUNCTION service_counts_track();
DROP TABLE service_counts;
