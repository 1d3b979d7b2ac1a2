DROP TRIGGER token_gone_notify ON api_tokens;
