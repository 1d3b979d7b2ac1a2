ALTER TABLE webhook_endpoints DROP COLUMN email_owner;
DROP TABLE smtp_settings;
