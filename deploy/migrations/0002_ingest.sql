-- Ingest: deliveries (runs), the partitions they state, normalised lines, rejects, rules.
-- Money is NUMERIC(24, 6); tables are not schema-qualified (search_path is the target).

-- Mapping rules as uploaded; an ingest names them by content hash.
CREATE TABLE ingest_rule_sets (
    rules_id    TEXT PRIMARY KEY,            -- sha256 of the YAML text
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One delivered file (upload, drop folder) or topic batch, and what came of it.
CREATE TABLE ingest_runs (
    ingest_id        UUID PRIMARY KEY,
    origin           TEXT NOT NULL CHECK (origin IN ('upload', 'drop', 'topic')),
    format           TEXT NOT NULL,
    source           TEXT,                   -- restatement source; NULL: provider:account
    file_name        TEXT NOT NULL,
    content_hash     TEXT NOT NULL,          -- sha256 of the bytes
    delivery_key     TEXT NOT NULL,          -- hash of content, format, source and rules
    rules_id         TEXT,
    layout           TEXT,
    status           TEXT NOT NULL
                     CHECK (status IN ('succeeded', 'refused', 'failed')),
    error            TEXT,
    rows_read        BIGINT NOT NULL DEFAULT 0,
    rows_accepted    BIGINT NOT NULL DEFAULT 0,
    rows_rejected    BIGINT NOT NULL DEFAULT 0,
    provider_totals  JSONB NOT NULL DEFAULT '{}'::jsonb,   -- provider -> decimal text
    billing_periods  DATE[] NOT NULL DEFAULT '{}',
    started_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
-- A delivery is taken once: the same bytes, format, source and rules give one run.
CREATE UNIQUE INDEX ingest_runs_delivery ON ingest_runs (delivery_key)
    WHERE status = 'succeeded';

-- Who last stated each (source, billing period): a re-delivery replaces it whole.
CREATE TABLE ingest_partitions (
    kind            TEXT NOT NULL CHECK (kind IN ('cost', 'usage')),
    source          TEXT NOT NULL,
    billing_period  DATE NOT NULL,
    delivery_key    TEXT NOT NULL,
    ingest_id       UUID NOT NULL REFERENCES ingest_runs (ingest_id),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, source, billing_period)
);

-- Normalised bill lines now in force, partitioned by billing month (created on demand).
CREATE TABLE cost_lines (
    billing_month         DATE NOT NULL,
    ingest_id             UUID NOT NULL,
    line                  BIGINT NOT NULL,   -- in its file; the header is line 1
    source                TEXT NOT NULL,
    provider              TEXT,
    billing_account_id    TEXT,
    sub_account_id        TEXT,
    charge_category       TEXT,
    service_category      TEXT,
    service_name          TEXT,
    resource_id           TEXT,
    region_id             TEXT,
    billing_currency      TEXT,
    billing_period_start  TIMESTAMPTZ NOT NULL,
    charge_period_start   TIMESTAMPTZ NOT NULL,
    charge_period_end     TIMESTAMPTZ NOT NULL,
    cost                  NUMERIC(24, 6) NOT NULL,   -- the rules' cost column
    billed_cost           NUMERIC(24, 6),
    effective_cost        NUMERIC(24, 6),
    list_cost             NUMERIC(24, 6),
    contracted_cost       NUMERIC(24, 6),
    tags                  TEXT,                      -- JSON object text, as delivered
    node                  TEXT NOT NULL,
    dimension             TEXT NOT NULL,
    PRIMARY KEY (billing_month, ingest_id, line)
) PARTITION BY RANGE (billing_month);
CREATE INDEX cost_lines_by_partition ON cost_lines (source, billing_month);
CREATE INDEX cost_lines_by_node ON cost_lines (node, dimension, charge_period_start);

-- Rows refused, per run: file, line (header = 1) and reason.
CREATE TABLE ingest_rejects (
    ingest_id  UUID NOT NULL REFERENCES ingest_runs (ingest_id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    file       TEXT NOT NULL,
    line       BIGINT,
    reason     TEXT NOT NULL,
    PRIMARY KEY (ingest_id, seq)
);
