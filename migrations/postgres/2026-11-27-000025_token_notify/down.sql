DROP TRIGGER token_gone_notify ON api_tokens;
DROP FUNCTION token_gone_notify();
