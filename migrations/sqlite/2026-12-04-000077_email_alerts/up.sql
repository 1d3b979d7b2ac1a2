-- Email alerts (src/alerts/email.rs): the SMTP server they go through, one row, its password sealed
-- for smtp_settings / password / 1; and an endpoint whose URL is a mailto: list may also write to the
-- connection's owner.
CREATE TABLE smtp_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    -- starttls, tls (implicit, usually port 465) or none.
    security TEXT NOT NULL CHECK (security IN ('starttls', 'tls', 'none')),
    username TEXT NOT NULL,
    password BLOB,
    from_address TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
ALTER TABLE webhook_endpoints ADD COLUMN email_owner BOOLEAN NOT NULL DEFAULT 0;
