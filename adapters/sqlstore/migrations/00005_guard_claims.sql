-- Conditional-create guards claim their value here instead of locking the
-- whole partition (which serialised every commit to it). A guarded commit
-- inserts one row per guard, then checks search_token, then deletes its
-- rows again, all in its own transaction. A second commit claiming an
-- equal value waits on the key until the first ends, because a unique
-- index makes an inserter wait for any uncommitted insert of the same key
-- (even one its transaction has since deleted); its check then runs after
-- the first committed, and sees its value. The table is empty between
-- transactions, so it holds no patient data at rest and needs no
-- row-level security; a stale row can never refuse a later create.
-- Portable: the same statements on PostgreSQL and SQLite (where writers
-- are serialised anyway).

-- +goose Up
CREATE TABLE guard_claims (
    partition TEXT NOT NULL,
    type      TEXT NOT NULL,
    param     TEXT NOT NULL,
    token     TEXT NOT NULL,
    PRIMARY KEY (partition, type, param, token)
);

-- +goose Down
DROP TABLE guard_claims;
