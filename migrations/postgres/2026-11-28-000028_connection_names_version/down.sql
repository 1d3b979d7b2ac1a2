DROP TRIGGER connection_names_version_changed ON connections;
DROP FUNCTION connection_names_changed();
DROP TABLE connection_names_version;
