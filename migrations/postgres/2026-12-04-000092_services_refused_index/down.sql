DROP INDEX services_client_refused;
