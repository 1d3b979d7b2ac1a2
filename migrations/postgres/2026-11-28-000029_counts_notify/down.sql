DROP TRIGGER service_counts_notify ON service_counts;
DROP TRIGGER connection_counts_notify ON connection_counts;
DROP FUNCTION counts_changed_notify();
