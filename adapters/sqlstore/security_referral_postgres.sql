-- Migration 7 on PostgreSQL (nothing on SQLite, as migration 2): row-level
-- security for the referral tables that carry patient references.
--
-- A Task lives in the sending trust's partition, yet the provider it is
-- offered to must find it: an offers row is visible when its partition or
-- its owner_org is app.partition. The store sets app.partition to the
-- provider's organisation code for a provider's reads, and to the trust's
-- partition for everything else. offer_timers, holds, hold_locks and
-- outbox carry ids, codes, times and references only and are read across
-- partitions (the sweeper; the bookable count of a Location, which every
-- trust's holds share; the subscription deliverer), so they have no policy.
ALTER TABLE offers ENABLE ROW LEVEL SECURITY;
ALTER TABLE offers FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_or_owner ON offers
    USING (partition = current_setting('app.partition', true)
        OR owner_org = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));

ALTER TABLE case_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_events FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON case_events
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));
