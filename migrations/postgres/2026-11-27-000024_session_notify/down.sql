DROP TRIGGER session_user_changed_notify ON users;
DROP TRIGGER session_gone_notify ON sessions;
DROP FUNCTION auth_cache_notify();
