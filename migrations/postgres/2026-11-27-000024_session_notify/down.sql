DROP TRIGGER session_user_changed_notify ON users;
DROP FUNCTION session_user_changed_notify();
DROP TRIGGER session_gone_notify ON sessions;
DROP FUNCTION session_gone_notify();
