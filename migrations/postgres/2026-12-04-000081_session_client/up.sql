-- What a session was started from, for My account's list of sessions: the browser's User-Agent
-- (at most 512 characters, control characters removed) and the client address, as recorded at
-- sign-in. Empty for sessions started before they were recorded.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN address TEXT;
