DROP TABLE connections_fts;
DROP TABLE connections;
