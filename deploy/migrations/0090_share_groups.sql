-- A parent's shares stored once per group of dimensions that share one set (issue 19,
-- decision 0400).
--
-- 0080 stored a set per date, parent and dimension. Most parents have no dimension
-- override: their rules, hence their shares, are the same in every dimension, and a
-- usage change rewrote the same set once per dimension (four times in the bench's
-- organisation). A set is now stored once per group of dimensions with one config of
-- the parent's rules, under the group's first dimension, with the list of the
-- group's dimensions (`dimensions`, in the engine's order, the first = `dimension`).
--
-- The table is renamed allocation_share_groups; allocation_share_sets becomes a view
-- with 0080's columns (a row per date, parent and dimension), and 0080's views are
-- made again over it, unchanged. The stored sets are carried over as groups of one
-- dimension: no date has to be recomputed (the allocator writes a date whole the
-- first time it computes it after a start, in groups).

DROP VIEW IF EXISTS grafana_flows_daily;
DROP VIEW allocation_contributions;
DROP VIEW allocation_shares;

ALTER TABLE allocation_share_sets RENAME TO allocation_share_groups;
ALTER INDEX allocation_share_sets_pkey RENAME TO allocation_share_groups_pkey;
ALTER INDEX allocation_share_sets_to RENAME TO allocation_share_groups_to;
ALTER TABLE allocation_share_groups ADD COLUMN dimensions TEXT[];
UPDATE allocation_share_groups SET dimensions = ARRAY[dimension];
ALTER TABLE allocation_share_groups ALTER COLUMN dimensions SET NOT NULL;
ALTER TABLE allocation_share_groups ADD CONSTRAINT allocation_share_groups_first
    CHECK (dimensions[1] = dimension);

-- 0080's rows: a set per date, parent and dimension.
CREATE VIEW allocation_share_sets AS
SELECT s.charge_date, s.from_node, d.dimension, s.to_nodes, s.strategies, s.shares,
       s.retained, s.run_id
FROM allocation_share_groups s
CROSS JOIN LATERAL unnest(s.dimensions) AS d(dimension);

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
                       '%I.allocation_shares, %I.allocation_share_sets, '
                       '%I.allocation_share_groups TO finops_api_reader',
                       current_schema(), current_schema(), current_schema(),
                       current_schema());
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'grants not made: the migrator may not grant them';
END $$;
