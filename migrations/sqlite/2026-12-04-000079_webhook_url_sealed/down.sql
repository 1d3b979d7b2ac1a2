-- SQL cannot open what the app sealed: every endpoint goes back with its shown (masked) URL, and its
-- full URL must be entered again after the downgrade.
DELETE FROM settings WHERE key = 'pending.webhook_url_masking';
ALTER TABLE webhook_endpoints DROP COLUMN url;
ALTER TABLE webhook_endpoints RENAME COLUMN shown_url TO url;
