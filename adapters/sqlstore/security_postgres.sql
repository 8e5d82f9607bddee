-- Migration 2 on PostgreSQL (on SQLite it does nothing: one process owns
-- the file, and SQLite has neither roles nor row-level security).
--
-- Row-level security is the second wall between organisations: the store
-- already filters every query by partition, and these policies make a query
-- that forgot to see nothing. The store sets app.partition per transaction
-- with set_config(..., true); unset, current_setting(..., true) is NULL or
-- '' and no row matches. FORCE applies the policies to the tables' owner
-- too, so a gateway connected as the role that ran the migrations is bound
-- by them (superusers and BYPASSRLS roles are not: never connect as one).
ALTER TABLE partition_generation ENABLE ROW LEVEL SECURITY;
ALTER TABLE partition_generation FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON partition_generation
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));

ALTER TABLE resources ENABLE ROW LEVEL SECURITY;
ALTER TABLE resources FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON resources
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));

ALTER TABLE resource_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE resource_history FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON resource_history
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));

ALTER TABLE search_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_token FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON search_token
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));

ALTER TABLE search_range ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_range FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON search_range
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true));

-- The audit trail is append-only for the role that runs the gateway: it
-- may insert and read, never change or remove. Revoking from the owner
-- (CURRENT_USER, the role running this migration) works because an owner's
-- rights are ordinary grants; a retention job runs as a separate role that
-- is granted DELETE for that purpose.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM CURRENT_USER;
