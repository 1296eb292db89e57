-- A restatement is the latest delivery of a source's period, whatever its content was
-- before: a run whose partitions another delivery took is superseded, and sending its
-- bytes again is a new delivery (not a duplicate) that states the period again.
ALTER TABLE ingest_runs ADD COLUMN superseded_by UUID;
DROP INDEX ingest_runs_delivery;
CREATE UNIQUE INDEX ingest_runs_delivery ON ingest_runs (delivery_key)
    WHERE status = 'succeeded' AND superseded_by IS NULL;
