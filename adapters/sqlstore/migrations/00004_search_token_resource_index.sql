-- The index that finds a resource's token rows (to replace them on update)
-- leads with the id instead of (partition, type). Leading with the
-- partition and type it matched every search's prefix as well as the
-- primary key did, and before the first ANALYZE of a freshly loaded table
-- the planner took it for token searches and filtered a whole partition's
-- tokens per resource (450 ms for one identifier among 1,000 Patients);
-- now a search can only use the primary key (partition, type, param,
-- token, id). Portable: the same statements on PostgreSQL and SQLite.

-- +goose Up
DROP INDEX search_token_resource;
CREATE INDEX search_token_resource ON search_token (id, partition, type);

-- +goose Down
DROP INDEX search_token_resource;
CREATE INDEX search_token_resource ON search_token (partition, type, id);
