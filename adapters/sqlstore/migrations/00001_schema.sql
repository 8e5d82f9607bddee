-- The system of record: versioned resources, their history, the search
-- indexes written in the same transaction, a change counter per partition,
-- and the audit trail. Portable SQL: the same file runs on PostgreSQL and
-- SQLite. Every patient-data table carries the partition (organisation) it
-- belongs to, first in its key; 00002 adds PostgreSQL's row-level security.
-- Times are Unix nanoseconds (Unix milliseconds for audit range queries).

-- +goose Up
CREATE TABLE partition_generation (
    partition  TEXT   NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);

CREATE TABLE resources (
    partition    TEXT   NOT NULL,
    type         TEXT   NOT NULL,
    id           TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    body         TEXT   NOT NULL,
    PRIMARY KEY (partition, type, id)
);

CREATE TABLE resource_history (
    partition    TEXT   NOT NULL,
    type         TEXT   NOT NULL,
    id           TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    last_updated BIGINT NOT NULL,
    body         TEXT   NOT NULL,
    PRIMARY KEY (partition, type, id, version)
);

-- Token, string and reference parameters: one row per distinct value.
CREATE TABLE search_token (
    partition TEXT NOT NULL,
    type      TEXT NOT NULL,
    param     TEXT NOT NULL,
    token     TEXT NOT NULL,
    id        TEXT NOT NULL,
    PRIMARY KEY (partition, type, param, token, id)
);
CREATE INDEX search_token_resource ON search_token (partition, type, id);

-- Date parameters: the hull [low, high] of a resource's values, in Unix
-- seconds, one row per parameter.
CREATE TABLE search_range (
    partition TEXT             NOT NULL,
    type      TEXT             NOT NULL,
    id        TEXT             NOT NULL,
    param     TEXT             NOT NULL,
    low       DOUBLE PRECISION NOT NULL,
    high      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (partition, type, id, param)
);
CREATE INDEX search_range_low ON search_range (partition, type, param, low);
CREATE INDEX search_range_high ON search_range (partition, type, param, high);

-- Who touched what and when, never clinical content. Append-only: 00002
-- revokes UPDATE and DELETE on PostgreSQL. entry_id sorts by time.
CREATE TABLE audit_log (
    entry_id    TEXT    NOT NULL PRIMARY KEY,
    at_ms       BIGINT  NOT NULL,
    at_ns       BIGINT  NOT NULL,
    client      TEXT    NOT NULL,
    org         TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    interaction TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    request_id  TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE search_range;
DROP TABLE search_token;
DROP TABLE resource_history;
DROP TABLE resources;
DROP TABLE partition_generation;
