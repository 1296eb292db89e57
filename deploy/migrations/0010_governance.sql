-- Governance: budgets, webhook subscriptions and actions as applied by
-- `finops budgets apply`; alert state; the delivery outbox and its attempts; action runs.

-- Bill lines keep the FOCUS ResourceName and ResourceType (shutdown filters name them).
ALTER TABLE cost_lines ADD COLUMN resource_name TEXT;
ALTER TABLE cost_lines ADD COLUMN resource_type TEXT;

-- The applied configuration, one row per item; `spec` is the item as validated
-- (finops.domain.budgets), `line` where the applied file declared it.
CREATE TABLE governance_items (
    kind        TEXT NOT NULL CHECK (kind IN ('budget', 'webhook', 'action')),
    item_id     TEXT NOT NULL,
    spec        JSONB NOT NULL,
    digest      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, item_id)
);

-- Each apply that changed something, for the audit trail.
CREATE TABLE governance_versions (
    version     BIGINT PRIMARY KEY,
    file_name   TEXT NOT NULL,
    summary     JSONB NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per (budget, period, threshold, basis): whether it is crossed now. `crossings`
-- counts how often it fired; the alert of a crossing is alert_id (one id per crossing).
CREATE TABLE budget_threshold_state (
    budget_id     TEXT NOT NULL,
    period_start  DATE NOT NULL,
    percent       NUMERIC(10, 4) NOT NULL,
    basis         TEXT NOT NULL CHECK (basis IN ('actual', 'forecast')),
    firing        BOOLEAN NOT NULL,
    crossings     INTEGER NOT NULL DEFAULT 0,
    alert_id      UUID,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (budget_id, period_start, percent, basis)
);

-- Every alert and resolution, as published on finops.budget-alerts.v1.
CREATE TABLE budget_alerts (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id      UUID NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('alert', 'resolved')),
    budget_id     TEXT NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    percent       NUMERIC(10, 4) NOT NULL,
    basis         TEXT NOT NULL,
    spent         NUMERIC(24, 6) NOT NULL,
    forecast      NUMERIC(24, 6),
    budget_amount NUMERIC(24, 6) NOT NULL,
    currency      TEXT NOT NULL,
    cause         JSONB NOT NULL DEFAULT '{}'::jsonb,   -- the events that led here
    event         JSONB NOT NULL,                       -- the BudgetAlertChanged event
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ,                          -- sent to Kafka (outbox)
    UNIQUE (alert_id, status)
);
CREATE INDEX budget_alerts_unpublished ON budget_alerts (seq) WHERE published_at IS NULL;

-- The delivery outbox: one row per (message, target), written in the transaction that
-- decided it; the same message always keeps its webhook-id (msg_id).
CREATE TABLE webhook_deliveries (
    delivery_id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id           TEXT NOT NULL,
    target_kind      TEXT NOT NULL CHECK (target_kind IN ('webhook', 'executor')),
    target_id        TEXT NOT NULL,        -- webhook id, or action id for an executor
    event_type       TEXT NOT NULL,
    url              TEXT NOT NULL,
    payload          TEXT NOT NULL,        -- the exact body sent
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error       TEXT,
    action_run_id    UUID,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ,
    UNIQUE (msg_id, target_kind, target_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- Every attempt: when, the answer, how long it took, an excerpt of the body.
CREATE TABLE webhook_attempts (
    delivery_id   BIGINT NOT NULL REFERENCES webhook_deliveries (delivery_id)
                  ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code   INTEGER,
    latency_ms    DOUBLE PRECISION NOT NULL,
    error         TEXT,
    response      TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- Subscriptions a receiver disabled (410 Gone) until applied again.
CREATE TABLE webhook_disabled (
    webhook_id   TEXT PRIMARY KEY,
    reason       TEXT NOT NULL,
    disabled_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One run of an action policy (an alert triggered it) and its state.
CREATE TABLE action_runs (
    run_id       UUID PRIMARY KEY,
    action_id    TEXT NOT NULL,
    alert_id     UUID NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('standby', 'pending_approval',
                 'executing', 'succeeded', 'failed', 'reversing', 'reversed')),
    resources    JSONB NOT NULL,       -- the targets, fixed when the run was created
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (action_id, alert_id)
);

-- The audit trail: who or what did what to a run, and the executor's answers.
CREATE TABLE action_audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      UUID NOT NULL REFERENCES action_runs (run_id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor       TEXT NOT NULL,
    event       TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb
);
