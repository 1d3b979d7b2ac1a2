DROP TABLE connection_counts;
