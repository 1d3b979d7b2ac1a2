-- The audit log (src/models/audit.rs, src/ops/audit.rs): the client address each change came from,
-- the indexes its filters page on (newest first, by time then id), and append-only triggers.
ALTER TABLE audit_log ADD COLUMN source TEXT;
CREATE INDEX audit_log_at_id ON audit_log (at, id);
CREATE INDEX audit_log_object ON audit_log (target_type, target, at, id);
CREATE INDEX audit_log_actor ON audit_log (actor, at, id);
CREATE INDEX audit_log_action ON audit_log (action, at, id);

-- No statement changes an entry. Only the retention prune removes entries, and it opens this gate
-- (a row here) inside its own transaction, closing it before the commit: no other transaction
-- sees it open.
CREATE TABLE audit_prune_gate (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_prune_gate) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: only the retention prune removes entries';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
