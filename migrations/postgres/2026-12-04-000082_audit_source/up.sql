-- The audit log (src/models/audit.rs, src/ops/audit.rs): the client address each change came from,
-- the indexes its filters page on (newest first, by time then id), and append-only triggers.
ALTER TABLE audit_log ADD COLUMN source TEXT;
CREATE INDEX audit_log_at_id ON audit_log (at, id);
CREATE INDEX audit_log_object ON audit_log (target_type, target, at, id);
CREATE INDEX audit_log_actor ON audit_log (actor, at, id);
CREATE INDEX audit_log_action ON audit_log (action, at, id);

-- No statement changes or removes an entry, except the two that must: the retention prune, and the
-- redaction of what an older version recorded (webhook URLs, migration 000079). Each opens this
-- gate (a row here) inside its own transaction and closes it before the commit, so no other
-- transaction ever sees it open.
CREATE TABLE audit_log_gate (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_log_gate) THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
