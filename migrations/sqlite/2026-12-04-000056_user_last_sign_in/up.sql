-- When each user last signed in; empty until their first sign-in.
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
