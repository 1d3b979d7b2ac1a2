ALTER TABLE services DROP COLUMN client_refused_message;
ALTER TABLE services DROP COLUMN client_refused_at;
ALTER TABLE connections DROP COLUMN last_refresh_attempt_at;
ALTER TABLE connections DROP COLUMN previous_refresh_token;
