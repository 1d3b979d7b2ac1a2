-- What the provider returned when the connection was connected (a JSON object of the values its
-- service declares under captured values, e.g. {"realm_id": "9130350"}); not secrets. NULL when none.
ALTER TABLE connections ADD COLUMN captured TEXT;
