-- The catalogue template a service was created from (src/catalogue.rs), and its version.
ALTER TABLE services ADD COLUMN template_id TEXT;
ALTER TABLE services ADD COLUMN template_version INTEGER;
