-- The services whose client credentials the provider refused: a connection of one needs attention
-- (src/models/attention.rs), and My Connections counts the viewer's on every page. Without an index
-- each count reads every service; there are few such services, so this index is small.
CREATE INDEX services_client_refused ON services (id) WHERE client_refused_at IS NOT NULL;
