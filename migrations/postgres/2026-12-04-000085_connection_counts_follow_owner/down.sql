DROP TRIGGER connection_counts_owner ON connections;
DROP FUNCTION connection_counts_move();
