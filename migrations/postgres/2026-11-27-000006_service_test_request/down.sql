ALTER TABLE services DROP COLUMN test_request;
