ALTER TABLE services DROP COLUMN template_version;
ALTER TABLE services DROP COLUMN template_id;
