-- The api's reads. Its answers are kept per data version (the latest write of results,
-- days, graph, deliveries and usage): these indexes make that version one index probe
-- per table. A read-only role for the api's connections, where the migrator may make
-- roles (a superuser or CREATEROLE); the api also opens its query sessions read-only.

CREATE INDEX IF NOT EXISTS computation_runs_started ON computation_runs (started_at);
CREATE INDEX IF NOT EXISTS allocator_days_stored ON allocator_days (stored_at);
CREATE INDEX IF NOT EXISTS ingest_runs_finished ON ingest_runs (finished_at);
CREATE INDEX IF NOT EXISTS node_usage_updated ON node_usage_by_dimension (updated_at);
CREATE INDEX IF NOT EXISTS node_usage_by_node
    ON node_usage_by_dimension (node_id, usage_date, metric);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_api_reader') THEN
        CREATE ROLE finops_api_reader NOLOGIN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO finops_api_reader', current_schema());
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO finops_api_reader',
                   current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES '
                   'TO finops_api_reader', current_schema());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'finops_api_reader not made: the migrator may not create roles';
END
$$;
