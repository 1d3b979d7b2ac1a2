DROP TABLE services_fts;
DROP TABLE services;
