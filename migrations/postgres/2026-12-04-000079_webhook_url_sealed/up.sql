-- A webhook endpoint's URL can be a credential (a Slack incoming webhook's is): it is sealed like the
-- signing secret, for webhook_endpoints / url / id, and pages show only `shown_url` (scheme, host and a
-- masked path; an email endpoint's mailto: list in full).
-- SQL cannot seal. The old column becomes `shown_url` and still holds the full URL of the rows written
-- before this migration, with `url` NULL, until the app's next start seals it and masks `shown_url`
-- (src/models/webhook/sealing.rs). The settings row asks that start to mask the URLs in the audit log's
-- older webhook entries too, then it is deleted.
ALTER TABLE webhook_endpoints RENAME COLUMN url TO shown_url;
ALTER TABLE webhook_endpoints ADD COLUMN url BYTEA;
INSERT INTO settings (key, value, updated_at) VALUES ('pending.webhook_url_masking', 'audit_log', 0);
