-- Nothing on PostgreSQL: its triggers tell every instance of a change with NOTIFY (migrations 000024
-- to 000026). SQLite has no NOTIFY and logs the same changes to a table instead (see the SQLite
-- migration of the same name).
SELECT 1;
