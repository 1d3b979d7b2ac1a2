ALTER TABLE connections DROP COLUMN refresh_expires_at;
