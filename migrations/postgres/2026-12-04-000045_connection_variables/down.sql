ALTER TABLE connections DROP COLUMN variables;
