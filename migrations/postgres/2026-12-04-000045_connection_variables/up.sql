-- A connection's values for its service's connection variables (a JSON object of DNS labels, e.g.
-- {"subdomain": "acme"}), fixed when it is created; NULL for a service without variables.
ALTER TABLE connections ADD COLUMN variables TEXT;
