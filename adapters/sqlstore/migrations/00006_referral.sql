-- The referral loop's state beside its Tasks. A Task (an offer to one
-- provider) is a FHIR resource in the sending trust's partition (resources,
-- resource_history), written in the same transaction as these rows:
--
--   offers       the queryable state of each Task; providers find the
--                Tasks they own here (owner_org).
--   offer_timers when an unanswered Task falls due: ids and times only, no
--                RLS, so one sweeper finds due Tasks in every partition and
--                then acts in that partition's own transaction.
--   holds        one bed of a bed type at a Location per accepted offer.
--                Counted across partitions (every trust's holds compete
--                for the same beds), so no RLS: ids, codes and times only.
--   hold_locks   one row per (location, bed_type), locked by the accept
--                transaction so that two accepts for the same beds count
--                the holds one after the other.
--   case_events  the case's timeline (referral.Event), read by the case
--                view.
--   outbox       one row per Task change for subscriptions to deliver
--                (a reference only; read across partitions).
--
-- Times are Unix nanoseconds. 00007 (a Go migration) adds PostgreSQL's
-- row-level security to offers and case_events.

-- +goose Up
CREATE TABLE offers (
    partition          TEXT   NOT NULL,
    task_id            TEXT   NOT NULL,
    owner_org          TEXT   NOT NULL,
    owner              TEXT   NOT NULL,
    requester          TEXT   NOT NULL,
    service_request    TEXT   NOT NULL,
    encounter          TEXT   NOT NULL,
    patient            TEXT   NOT NULL,
    location           TEXT   NOT NULL,
    healthcare_service TEXT   NOT NULL,
    state              TEXT   NOT NULL,
    business_status    TEXT   NOT NULL,
    deadline           BIGINT NOT NULL,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (partition, task_id)
);
CREATE INDEX offers_owner ON offers (owner_org, state, updated_at);
CREATE INDEX offers_service_request ON offers (partition, service_request, state);
CREATE INDEX offers_encounter ON offers (partition, encounter, state);

CREATE TABLE offer_timers (
    partition TEXT   NOT NULL,
    task_id   TEXT   NOT NULL,
    due       BIGINT NOT NULL,
    PRIMARY KEY (partition, task_id)
);
CREATE INDEX offer_timers_due ON offer_timers (due);

CREATE TABLE holds (
    id         TEXT   NOT NULL PRIMARY KEY,
    partition  TEXT   NOT NULL,
    task_id    TEXT   NOT NULL,
    location   TEXT   NOT NULL,
    bed_type   TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT NOT NULL
);
CREATE INDEX holds_bookable ON holds (location, bed_type, state);
CREATE INDEX holds_task ON holds (partition, task_id);
CREATE INDEX holds_expiry ON holds (state, expires_at);

CREATE TABLE hold_locks (
    location TEXT   NOT NULL,
    bed_type TEXT   NOT NULL,
    takes    BIGINT NOT NULL,
    PRIMARY KEY (location, bed_type)
);

CREATE TABLE case_events (
    partition    TEXT   NOT NULL,
    case_id      TEXT   NOT NULL,
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    actor        TEXT   NOT NULL,
    actor_org    TEXT   NOT NULL,
    task_id      TEXT   NOT NULL,
    provider_org TEXT   NOT NULL,
    detail       TEXT   NOT NULL,
    PRIMARY KEY (partition, case_id, seq)
);

CREATE TABLE outbox (
    id           TEXT   NOT NULL PRIMARY KEY,
    at           BIGINT NOT NULL,
    partition    TEXT   NOT NULL,
    topic        TEXT   NOT NULL,
    ref          TEXT   NOT NULL,
    payload      TEXT   NOT NULL,
    delivered_at BIGINT NOT NULL
);
CREATE INDEX outbox_pending ON outbox (delivered_at, at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE case_events;
DROP TABLE hold_locks;
DROP TABLE holds;
DROP TABLE offer_timers;
DROP TABLE offers;
