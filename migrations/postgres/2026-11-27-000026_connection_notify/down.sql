DROP TRIGGER service_changed_notify ON services;
DROP TRIGGER connection_changed_notify ON connections;
