DROP TABLE connection_events;
