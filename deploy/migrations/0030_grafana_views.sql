-- Views made for Grafana (deploy/grafana, docs/dashboards.md) and a read-only role that
-- may read them and nothing else: not the tables, whose governance specs hold webhook
-- secrets and whose deliveries hold the URLs and bodies sent. A view runs with its
-- owner's rights, so SELECT on the views is all the role needs. Times are timestamptz
-- (charge dates as UTC midnight) so Grafana's $__timeFilter applies to every view.

-- Every node ever in the graph, with the labels the dashboards group by.
CREATE OR REPLACE VIEW grafana_nodes AS
SELECT node_id, node_type, active,
       labels ->> 'env' AS env,
       labels ->> 'team' AS team,
       labels::text AS labels
FROM cost_nodes;

-- The allocator's figures per node, day and dimension.
CREATE OR REPLACE VIEW grafana_node_costs_daily AS
SELECT (r.charge_date::timestamp AT TIME ZONE 'UTC') AS "time",
       r.charge_date AS day, r.node_id, coalesce(n.node_type, 'retired') AS node_type,
       r.dimension, r.direct, r.indirect, r.holistic, r.allocated_out, r.retained
FROM allocation_results r
LEFT JOIN cost_nodes n USING (node_id);

-- The flows between nodes that built the figures.
CREATE OR REPLACE VIEW grafana_flows_daily AS
SELECT (c.charge_date::timestamp AT TIME ZONE 'UTC') AS "time",
       c.charge_date AS day, c.from_node, coalesce(f.node_type, 'retired') AS from_type,
       c.to_node, coalesce(t.node_type, 'retired') AS to_type,
       c.dimension, c.amount, c.strategy, c.share
FROM allocation_contributions c
LEFT JOIN cost_nodes f ON f.node_id = c.from_node
LEFT JOIN cost_nodes t ON t.node_id = c.to_node;

-- Usage per node, day and metric (every label and source summed).
CREATE OR REPLACE VIEW grafana_node_usage_daily AS
SELECT (usage_date::timestamp AT TIME ZONE 'UTC') AS "time", usage_date AS day,
       node_id, metric, sum(value) AS value
FROM node_usage_by_dimension
GROUP BY usage_date, node_id, metric;

-- The latest graph's edges.
CREATE OR REPLACE VIEW grafana_edges AS
SELECT e.from_node, f.node_type AS from_type, e.to_node, t.node_type AS to_type,
       e.strategy, e.active_from, e.active_to
FROM dependency_edges e
JOIN cost_nodes f ON f.node_id = e.from_node
JOIN cost_nodes t ON t.node_id = e.to_node;

-- Bill lines with their FOCUS fields; tags as JSON (text that is not a JSON object: none).
CREATE OR REPLACE VIEW grafana_cost_lines AS
SELECT charge_period_start AS "time", charge_period_end, billing_month,
       coalesce(provider, 'unknown') AS provider,
       coalesce(service_category, 'unknown') AS service_category,
       service_name, sub_account_id, billing_account_id, region_id, charge_category,
       billing_currency, resource_id, resource_name, resource_type, node, dimension,
       source, cost, billed_cost, effective_cost, list_cost, contracted_cost,
       CASE WHEN tags IS NOT NULL AND pg_input_is_valid(tags, 'jsonb')
                 AND left(ltrim(tags), 1) = '{' THEN tags::jsonb
            ELSE '{}'::jsonb END AS tags
FROM cost_lines;

-- One row per bill line and tag.
CREATE OR REPLACE VIEW grafana_cost_line_tags AS
SELECT l."time", l.provider, l.service_category, l.service_name, l.node, l.dimension,
       t.key AS tag_key, t.value AS tag_value, l.cost
FROM grafana_cost_lines l
CROSS JOIN LATERAL jsonb_each_text(l.tags) AS t;

-- Budgets as applied (no webhook or executor secret is in a budget's spec), with the
-- spend and forecast of their latest alert or resolution, and for a node budget the
-- holistic cost of the latest stored month.
CREATE OR REPLACE VIEW grafana_budgets AS
WITH latest AS (
    SELECT DISTINCT ON (budget_id) budget_id, period_start, period_end, spent,
           forecast, created_at
    FROM budget_alerts
    ORDER BY budget_id, seq DESC
), stored AS (
    SELECT date_trunc('month', max(charge_date))::date AS month_start FROM allocation_results
)
SELECT g.item_id AS budget_id, g.spec ->> 'name' AS name,
       (g.spec ->> 'amount')::numeric AS amount, g.spec ->> 'currency' AS currency,
       g.spec ->> 'period' AS period,
       g.spec -> 'scope' ->> 'node' AS scope_node,
       (g.spec -> 'scope')::text AS scope,
       (SELECT string_agg((t ->> 'percent')::numeric::text || '% ' || (t ->> 'basis'),
                          ', ' ORDER BY (t ->> 'percent')::numeric)
        FROM jsonb_array_elements(g.spec -> 'thresholds') AS t) AS thresholds,
       latest.spent AS alert_spent, latest.forecast AS alert_forecast,
       latest.created_at AS last_alert_at,
       (SELECT sum(r.holistic) FROM allocation_results r, stored
        WHERE r.node_id = g.spec -> 'scope' ->> 'node'
          AND r.charge_date >= stored.month_start
          AND (g.spec -> 'scope' ->> 'dimension' IS NULL
               OR r.dimension = g.spec -> 'scope' ->> 'dimension')) AS node_month_spent,
       (SELECT count(*) FROM budget_threshold_state s
        WHERE s.budget_id = g.item_id AND s.firing) AS thresholds_firing
FROM governance_items g
LEFT JOIN latest ON latest.budget_id = g.item_id
WHERE g.kind = 'budget';

CREATE OR REPLACE VIEW grafana_budget_thresholds AS
SELECT budget_id, period_start, percent, basis, firing, crossings, updated_at
FROM budget_threshold_state;

CREATE OR REPLACE VIEW grafana_alerts AS
SELECT created_at AS "time", seq, alert_id, status, budget_id, period_start,
       period_end, percent, basis, spent, forecast, budget_amount, currency,
       published_at
FROM budget_alerts;

-- Deliveries without their URL or body (a chat webhook's URL is its secret).
CREATE OR REPLACE VIEW grafana_webhook_deliveries AS
SELECT created_at AS "time", delivery_id, target_kind, target_id, event_type, status,
       attempts, last_error, delivered_at
FROM webhook_deliveries;

CREATE OR REPLACE VIEW grafana_webhook_attempts AS
SELECT a.attempted_at AS "time", a.delivery_id, d.target_kind, d.target_id, a.attempt,
       a.status_code,
       CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 'delivered' ELSE 'failed' END
           AS outcome,
       a.latency_ms / 1000.0 AS latency_seconds, a.error
FROM webhook_attempts a
JOIN webhook_deliveries d USING (delivery_id);

CREATE OR REPLACE VIEW grafana_action_runs AS
SELECT created_at AS "time", run_id, action_id, alert_id, state,
       jsonb_array_length(CASE jsonb_typeof(resources) WHEN 'array' THEN resources
                          ELSE '[]'::jsonb END) AS targets,
       updated_at
FROM action_runs;

CREATE OR REPLACE VIEW grafana_action_audit AS
SELECT at AS "time", seq, run_id, actor, event
FROM action_audit;

CREATE OR REPLACE VIEW grafana_ingest_runs AS
SELECT started_at AS "time", finished_at, ingest_id, origin, format, source, file_name,
       status, rows_read, rows_accepted, rows_rejected, error
FROM ingest_runs;

-- How fresh the stored numbers are: one row.
CREATE OR REPLACE VIEW grafana_freshness AS
SELECT (SELECT max(stored_at) FROM allocator_days) AS results_stored_at,
       (SELECT max(charge_date) FROM allocator_days) AS latest_charge_date,
       (SELECT max(finished_at) FROM ingest_runs WHERE status = 'succeeded')
           AS ingest_finished_at,
       extract(epoch FROM now() - (SELECT max(stored_at) FROM allocator_days))
           AS results_age_seconds,
       extract(epoch FROM now() - (SELECT max(finished_at) FROM ingest_runs
                                   WHERE status = 'succeeded')) AS ingest_age_seconds;

DO $$
DECLARE
    view_name TEXT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_grafana') THEN
        CREATE ROLE finops_grafana NOLOGIN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO finops_grafana', current_schema());
    FOR view_name IN
        SELECT table_name FROM information_schema.views
        WHERE table_schema = current_schema() AND table_name LIKE 'grafana\_%'
    LOOP
        EXECUTE format('GRANT SELECT ON %I.%I TO finops_grafana',
                       current_schema(), view_name);
    END LOOP;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'finops_grafana not made: the migrator may not create roles';
END
$$;
