DROP INDEX connections_leased;
