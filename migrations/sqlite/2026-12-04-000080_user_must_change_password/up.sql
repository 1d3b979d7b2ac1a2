-- A user whose password an administrator chose (a new user, a reset) must choose their own at their
-- next sign-in: every page but the change-password page sends them there until they do
-- (src/auth/guard.rs). API tokens are not held to it.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT 0;
