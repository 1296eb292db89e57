-- Usage pulled from Prometheus by the ingest service is a delivery of origin 'pull'.
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_origin_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_origin_check
    CHECK (origin IN ('upload', 'drop', 'topic', 'pull'));
