-- API tokens, and the graph kept in PostgreSQL for readers (api, governance, Grafana).

-- Bearer tokens with scopes (read, ingest, admin); only the secret's SHA-256 is stored.
CREATE TABLE api_tokens (
    token_id       TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    scopes         TEXT[] NOT NULL CHECK (cardinality(scopes) > 0
                   AND scopes <@ ARRAY['read', 'ingest', 'admin']::text[]),
    secret_sha256  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ
);

-- The graph of finops.graph.v1 as of its latest version: graph_versions holds every
-- version stored (its whole spec), cost_nodes every node ever seen (active: in the
-- latest version; results of past dates still name the others), dependency_edges and
-- edge_strategies the latest version's edges and per-dimension overrides.
ALTER TABLE cost_nodes ADD COLUMN active BOOLEAN NOT NULL DEFAULT true;
CREATE INDEX cost_nodes_type ON cost_nodes (node_type) WHERE active;
CREATE UNIQUE INDEX dependency_edges_identity
    ON dependency_edges (from_node, to_node, COALESCE(active_from, '-infinity'::date));
