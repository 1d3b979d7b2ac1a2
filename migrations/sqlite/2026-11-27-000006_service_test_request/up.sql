ALTER TABLE services ADD COLUMN test_request TEXT;
