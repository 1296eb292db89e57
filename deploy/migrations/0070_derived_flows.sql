-- Flows derived in PostgreSQL instead of written (issue 19, decision 0240).
--
-- A flow is split_exactly(the parent's holistic, the parent's shares) for one date and
-- dimension. The allocator now stores, with a date's node rows and in their
-- transaction, the shares of each parent whose plan changed: one row per child
-- (position 0..parts-1) and a last row (position = parts, to_node '') holding the
-- retained share as the engine computed it (NumPy sums the shares in row order; SQL's
-- sum() has no order, so it is stored, never summed here). allocation_contributions
-- becomes a view over these shares and allocation_results with the same columns as
-- the table it replaces; every reader keeps its SQL.
--
-- Upgrade: the old table's rows are dropped and allocator_days is cleared, so the
-- allocator recomputes every date with inputs and writes it whole (node rows and
-- shares). Until a date is written again its flows read as none.

DROP VIEW IF EXISTS grafana_flows_daily;
DROP TABLE allocation_contributions;

CREATE TABLE allocation_shares (
    charge_date  DATE NOT NULL,
    from_node    TEXT NOT NULL,
    dimension    TEXT NOT NULL,
    position     BIGINT NOT NULL,           -- the child's row in the parent's plan
    to_node      TEXT NOT NULL,             -- '' on the retained row (position = parts)
    strategy     TEXT NOT NULL,             -- '' on the retained row
    share        DOUBLE PRECISION NOT NULL, -- IEEE double, as NumPy's float64
    run_id       UUID,                      -- the write that stored these shares
    PRIMARY KEY (charge_date, from_node, dimension, position)
);
CREATE INDEX allocation_shares_to ON allocation_shares (to_node, charge_date);

-- split_exactly in SQL (bench/bench_derived_flows.py proves it equal to the engine's):
-- every part, the retained one last, gets the floor of share x amount in float8; the
-- leftover micro-units go one each to the largest fractional remainders, ties to the
-- earlier part, a part without share last; float noise leaving more leftover than
-- parts gives everyone the whole quotient. Only flows with an amount or a positive
-- share are listed (as the engine lists them). Predicates on charge_date, from_node or
-- dimension are pushed below the window functions (they are its partition).
CREATE VIEW allocation_contributions AS
WITH parts AS (
    SELECT s.charge_date, s.dimension, s.from_node, s.position, s.to_node, s.strategy,
           s.share, COALESCE((h.holistic * 1000000)::bigint, 0) AS amount,
           COALESCE(h.run_id, s.run_id) AS run_id
    FROM allocation_shares s
    LEFT JOIN allocation_results h ON h.node_id = s.from_node
         AND h.charge_date = s.charge_date AND h.dimension = s.dimension
), ideal AS (
    SELECT *, share * amount::float8 AS exact, floor(share * amount::float8) AS low
    FROM parts
), ranked AS (
    SELECT *,
           amount - sum(low::bigint) OVER parent AS leftover,
           count(*) OVER parent AS slots,
           row_number() OVER (
               PARTITION BY charge_date, dimension, from_node
               ORDER BY CASE WHEN share = 0 THEN -1.0 ELSE exact - low END DESC,
                        position
           ) - 1 AS rank
    FROM ideal
    WINDOW parent AS (PARTITION BY charge_date, dimension, from_node)
), spread AS (
    SELECT *, floor(leftover::numeric / slots)::bigint AS whole FROM ranked
), flows AS (
    SELECT charge_date, dimension, from_node, to_node, strategy, share, run_id,
           low::bigint + whole
             + CASE WHEN rank < leftover - whole * slots THEN 1 ELSE 0 END AS micros
    FROM spread WHERE to_node <> ''
)
SELECT from_node, to_node, charge_date, dimension,
       (micros::numeric / 1000000)::numeric(24, 6) AS amount, strategy, share, run_id
FROM flows
WHERE micros <> 0 OR share > 0;

-- 0030's view, as it was, over the view.
CREATE VIEW grafana_flows_daily AS
SELECT (c.charge_date::timestamp AT TIME ZONE 'UTC') AS "time",
       c.charge_date AS day, c.from_node, coalesce(f.node_type, 'retired') AS from_type,
       c.to_node, coalesce(t.node_type, 'retired') AS to_type,
       c.dimension, c.amount, c.strategy, c.share
FROM allocation_contributions c
LEFT JOIN cost_nodes f ON f.node_id = c.from_node
LEFT JOIN cost_nodes t ON t.node_id = c.to_node;

-- Every date is recomputed and written whole by the allocator.
DELETE FROM allocator_days;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_grafana') THEN
        EXECUTE format('GRANT SELECT ON %I.grafana_flows_daily TO finops_grafana',
                       current_schema());
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_api_reader') THEN
        EXECUTE format('GRANT SELECT ON %I.allocation_contributions, '
                       '%I.allocation_shares TO finops_api_reader',
                       current_schema(), current_schema());
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'grants not made: the migrator may not grant them';
END $$;
