-- A provider finds an offer by its Task id and its own organisation
-- (Referral.FindOffer as the owner, before every answer). Without an index
-- on the id that read walked offers_owner through every offer the provider
-- ever had (a probe with 4,000 offers: a bitmap scan removing 499 rows of
-- 500), a cost growing with the provider's history; now one index lookup.

-- +goose Up
CREATE INDEX offers_task ON offers (task_id);

-- +goose Down
DROP INDEX offers_task;
