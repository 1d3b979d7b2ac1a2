-- Nothing on SQLite: connections are read in-process there, with no cache to keep current (see the
-- PostgreSQL migration of the same name).
SELECT 1;
