DROP TABLE encryption_key_ids;
DROP TABLE audit_log;
DROP TABLE settings;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
