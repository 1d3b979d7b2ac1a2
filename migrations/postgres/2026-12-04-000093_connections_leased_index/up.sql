-- The connections whose token refresh an instance holds a lease on: an instance releases its own at
-- start and at shutdown (src/models/lease.rs). Without an index each release reads every connection,
-- which at a million connections also maps most of the SQLite file into the process; few connections
-- are leased at any moment, so this index is small.
CREATE INDEX connections_leased ON connections (lease_holder) WHERE lease_holder IS NOT NULL;
