DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log_gate;
DROP INDEX audit_log_action;
DROP INDEX audit_log_actor;
DROP INDEX audit_log_object;
DROP INDEX audit_log_at_id;
ALTER TABLE audit_log DROP COLUMN source;
