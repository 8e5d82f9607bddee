-- Capacity postings as their providers asserted them: the record behind
-- the Redis capacity cache, which is rebuilt from the latest posting of
-- each location. A posting is a row only when it was applied (an older one
-- than the location's latest is ignored, as the cache ignores it); version
-- counts a location's applied postings. Not patient data: no partition
-- column, and no row-level security (every care provider's vacancies are
-- read by every trust). Times: as_of in Unix milliseconds (the cache's
-- precision for "newer"), recorded_at in Unix nanoseconds.

-- +goose Up
CREATE TABLE capacity_postings (
    location    TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    as_of       BIGINT NOT NULL,
    posting     TEXT   NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (location, version)
);

-- +goose Down
DROP TABLE capacity_postings;
