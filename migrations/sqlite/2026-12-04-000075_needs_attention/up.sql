-- The connections that need attention (src/alerts/attention.rs): Needs reconnect, or refreshes that
-- failed three times in a row. The navigation counts them on every page and the owner's banner
-- counts theirs, so both read this small index rather than the table. The third reason, a service
-- whose client credentials the provider refused, is found through the few services so marked.
CREATE INDEX connections_attention ON connections (owner_id)
    WHERE status = 'needs_reconnect' OR refresh_failures >= 3;
