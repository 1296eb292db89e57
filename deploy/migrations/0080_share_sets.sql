-- Shares stored as one row per date, parent and dimension (issue 19, decision 0270).
--
-- 0070 stored one row per child: a usage change moves every share of a parent, so the
-- allocator upserted about 31 share rows per event, two thirds of PostgreSQL's work in
-- the sustained stream. A parent's shares of one date and dimension now live in one
-- row: its children, their strategies and shares as arrays in the plan's order, and
-- the retained share as the engine computed it. The allocator replaces the whole set
-- of a parent and dimension whose shares moved.
--
-- allocation_shares becomes a view with 0070's columns (one row per child, position
-- 0..parts-1, and the retained row last: position = parts, to_node and strategy '').
-- allocation_contributions derives the flows from the sets exactly as 0070 did (the
-- same split, the same columns). The stored shares are carried over: no date has to
-- be recomputed.

DROP VIEW IF EXISTS grafana_flows_daily;
DROP VIEW allocation_contributions;

CREATE TABLE allocation_share_sets (
    charge_date  DATE NOT NULL,
    from_node    TEXT NOT NULL,
    dimension    TEXT NOT NULL,
    to_nodes     TEXT[] NOT NULL,             -- the children, in the plan's order
    strategies   TEXT[] NOT NULL,             -- each child's strategy
    shares       DOUBLE PRECISION[] NOT NULL, -- each child's share (NumPy's float64)
    retained     DOUBLE PRECISION NOT NULL,   -- the parent's retained share
    run_id       UUID,                        -- the write that stored this set
    PRIMARY KEY (charge_date, from_node, dimension),
    CHECK (cardinality(to_nodes) = cardinality(shares)
           AND cardinality(strategies) = cardinality(shares))
) WITH (fillfactor = 70);  -- room on each page: a moved set is a HOT update
-- The parents of a node (explain, flows into a node): sets whose children include it.
CREATE INDEX allocation_share_sets_to ON allocation_share_sets USING gin (to_nodes);

INSERT INTO allocation_share_sets (charge_date, from_node, dimension, to_nodes,
                                   strategies, shares, retained, run_id)
SELECT charge_date, from_node, dimension,
       coalesce(array_agg(to_node ORDER BY position) FILTER (WHERE to_node <> ''), '{}'),
       coalesce(array_agg(strategy ORDER BY position) FILTER (WHERE to_node <> ''), '{}'),
       coalesce(array_agg(share ORDER BY position) FILTER (WHERE to_node <> ''), '{}'),
       coalesce(max(share) FILTER (WHERE to_node = ''), 0),
       (array_agg(run_id))[1]
FROM allocation_shares
GROUP BY charge_date, from_node, dimension;

DROP TABLE allocation_shares;

-- 0070's rows, one per child and the retained one last.
CREATE VIEW allocation_shares AS
SELECT s.charge_date, s.from_node, s.dimension, u.n - 1 AS position, u.to_node,
       u.strategy, u.share, s.run_id
FROM allocation_share_sets s
CROSS JOIN LATERAL unnest(s.to_nodes || ''::text, s.strategies || ''::text,
                          s.shares || s.retained) WITH ORDINALITY AS u(to_node, strategy, share, n);

-- 0070's split over the sets (bench/bench_derived_flows.py proves it equal to the
-- engine's): every part, the retained one last, gets the floor of share x amount in
-- float8; the leftover micro-units go one each to the largest fractional remainders,
-- ties to the earlier part, a part without share last; float noise leaving more
-- leftover than parts gives everyone the whole quotient. Only flows with an amount or
-- a positive share are listed. Predicates on charge_date, from_node or dimension are
-- pushed below the window functions (they are its partition).
CREATE VIEW allocation_contributions AS
WITH parts AS (
    SELECT s.charge_date, s.dimension, s.from_node, u.n - 1 AS position, u.to_node,
           u.strategy, u.share, COALESCE((h.holistic * 1000000)::bigint, 0) AS amount,
           COALESCE(h.run_id, s.run_id) AS run_id
    FROM allocation_share_sets s
    CROSS JOIN LATERAL unnest(s.to_nodes || ''::text, s.strategies || ''::text,
                              s.shares || s.retained)
         WITH ORDINALITY AS u(to_node, strategy, share, n)
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

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_grafana') THEN
        EXECUTE format('GRANT SELECT ON %I.grafana_flows_daily TO finops_grafana',
                       current_schema());
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_api_reader') THEN
        EXECUTE format('GRANT SELECT ON %I.allocation_contributions, '
                       '%I.allocation_shares, %I.allocation_share_sets '
                       'TO finops_api_reader',
                       current_schema(), current_schema(), current_schema());
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'grants not made: the migrator may not grant them';
END $$;
