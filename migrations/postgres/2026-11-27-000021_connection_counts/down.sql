DROP TABLE connection_counts;
DROP FUNCTION connection_counts_track();
