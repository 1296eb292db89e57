-- Node costs are rounded once (issue 16): a source's node cost on a day in a dimension
-- keeps the exact sum of its lines' parts (micro-units and the pico-units below them),
-- and its amount is that sum rounded half to even, however many batches or messages
-- of the delivery added to it. Rows written before this migration (or by hand) have
-- no exact sum: their amount is taken as exact.
ALTER TABLE node_costs_by_dimension ADD COLUMN exact_amount NUMERIC(38, 12);

-- x rounded to six decimals, half to even (PostgreSQL's round() rounds half away
-- from zero).
CREATE FUNCTION finops_round_micros(x NUMERIC) RETURNS NUMERIC
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN abs(x * 1000000 - trunc(x * 1000000)) = 0.5
             AND mod(trunc(x * 1000000), 2) = 0
        THEN trunc(x * 1000000)
        ELSE round(x * 1000000)
    END / 1000000
$$;

-- A line's cost is stored in micro-units (cost) and what rounding it took off, in
-- pico-units (10^-12): a node cost is its lines' parts summed exactly, then rounded.
ALTER TABLE cost_lines ADD COLUMN cost_picos BIGINT NOT NULL DEFAULT 0;
