-- Core data model: the cost graph, direct costs and usage, computation runs, results.
-- Money is NUMERIC(24, 6): exact, six decimals (micro-units), negative allowed (credits).
-- Tables are not schema-qualified: `finops db migrate` sets search_path to the target schema.

CREATE TABLE graph_versions (
    version     BIGINT PRIMARY KEY,
    digest      TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    event_id    UUID UNIQUE,
    spec        JSONB NOT NULL
);

CREATE TABLE cost_nodes (
    node_id        TEXT PRIMARY KEY,
    node_type      TEXT NOT NULL
                   CHECK (node_type IN ('resource', 'shared', 'platform', 'product')),
    labels         JSONB NOT NULL DEFAULT '{}'::jsonb,
    graph_version  BIGINT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dependency_edges (
    edge_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_node      TEXT NOT NULL REFERENCES cost_nodes (node_id) ON DELETE CASCADE,
    to_node        TEXT NOT NULL REFERENCES cost_nodes (node_id) ON DELETE CASCADE,
    strategy       TEXT NOT NULL,
    params         JSONB NOT NULL DEFAULT '{}'::jsonb,
    active_from    DATE,          -- inclusive; NULL = since always
    active_to      DATE,          -- exclusive; NULL = open-ended
    graph_version  BIGINT NOT NULL,
    CHECK (from_node <> to_node),
    CHECK (active_from IS NULL OR active_to IS NULL OR active_to > active_from)
);
CREATE INDEX dependency_edges_from ON dependency_edges (from_node);
CREATE INDEX dependency_edges_to ON dependency_edges (to_node);

-- Per-dimension overrides of an edge's strategy.
CREATE TABLE edge_strategies (
    edge_id    BIGINT NOT NULL REFERENCES dependency_edges (edge_id) ON DELETE CASCADE,
    dimension  TEXT NOT NULL,
    strategy   TEXT NOT NULL,
    params     JSONB NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (edge_id, dimension)
);

-- What one source says a node cost on a day in a dimension; a restatement replaces the row.
CREATE TABLE node_costs_by_dimension (
    node_id      TEXT NOT NULL,
    charge_date  DATE NOT NULL,
    dimension    TEXT NOT NULL,
    source       TEXT NOT NULL,
    amount       NUMERIC(24, 6) NOT NULL,
    currency     TEXT NOT NULL DEFAULT 'USD',
    event_id     UUID,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, charge_date, dimension, source)
);
CREATE INDEX node_costs_by_date ON node_costs_by_dimension (charge_date, dimension);

CREATE TABLE node_usage_by_dimension (
    node_id     TEXT NOT NULL,
    usage_date  DATE NOT NULL,
    metric      TEXT NOT NULL,
    labels_key  TEXT NOT NULL DEFAULT '',   -- canonical JSON of labels, part of the key
    labels      JSONB NOT NULL DEFAULT '{}'::jsonb,
    source      TEXT NOT NULL,
    value       NUMERIC NOT NULL,
    event_id    UUID,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, usage_date, metric, source, labels_key)
);

CREATE TABLE computation_runs (
    run_id         UUID PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
    graph_version  BIGINT,
    first_date     DATE,
    last_date      DATE,
    input_offsets  JSONB NOT NULL DEFAULT '{}'::jsonb,
    status         TEXT NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'succeeded', 'failed')),
    error          TEXT,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at    TIMESTAMPTZ
);

-- One row per node, day and dimension: replaced on recompute, never added twice.
CREATE TABLE allocation_results (
    node_id        TEXT NOT NULL,
    charge_date    DATE NOT NULL,
    dimension      TEXT NOT NULL,
    direct         NUMERIC(24, 6) NOT NULL,
    indirect       NUMERIC(24, 6) NOT NULL,
    holistic       NUMERIC(24, 6) NOT NULL,
    allocated_out  NUMERIC(24, 6) NOT NULL,
    retained       NUMERIC(24, 6) NOT NULL,
    run_id         UUID REFERENCES computation_runs (run_id),
    graph_version  BIGINT,
    input_offsets  JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, charge_date, dimension),
    CHECK (holistic = direct + indirect),
    CHECK (retained = holistic - allocated_out)
);
CREATE INDEX allocation_results_by_date ON allocation_results (charge_date, dimension);

-- The flows between nodes that built the results (for explain and traceability).
CREATE TABLE allocation_contributions (
    from_node    TEXT NOT NULL,
    to_node      TEXT NOT NULL,
    charge_date  DATE NOT NULL,
    dimension    TEXT NOT NULL,
    amount       NUMERIC(24, 6) NOT NULL,
    strategy     TEXT NOT NULL,
    share        DOUBLE PRECISION NOT NULL,
    run_id       UUID REFERENCES computation_runs (run_id),
    PRIMARY KEY (from_node, to_node, charge_date, dimension)
);
CREATE INDEX allocation_contributions_to ON allocation_contributions (to_node, charge_date);

-- Idempotent handling: an event is applied at most once.
CREATE TABLE processed_events (
    event_id      UUID PRIMARY KEY,
    topic         TEXT NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
