ALTER TABLE connections DROP COLUMN captured;
