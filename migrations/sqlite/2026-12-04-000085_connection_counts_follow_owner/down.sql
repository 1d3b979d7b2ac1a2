DROP TRIGGER connection_counts_owner;
