-- The allocator's bookkeeping: per charge date, the graph version and input offsets its
-- stored results reflect (compared after a restart to find dates to recompute).

CREATE TABLE allocator_days (
    charge_date    DATE PRIMARY KEY,
    graph_version  BIGINT NOT NULL,
    input_offsets  JSONB NOT NULL DEFAULT '{}'::jsonb,
    run_id         UUID REFERENCES computation_runs (run_id),
    stored_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
