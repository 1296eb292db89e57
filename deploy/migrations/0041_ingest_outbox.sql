-- The ingest outbox: what a delivery must publish, written in the delivery's own
-- transaction, so a broker that fails after the commit (or a crash) delays the events
-- instead of losing them. An entry names what to publish (a source key's dates, a
-- run's refused rows); the events are built from the stored state when it is sent,
-- and each carries that state whole, so sending an entry twice changes nothing.
CREATE TABLE ingest_outbox (
    entry_id      BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('cost', 'usage', 'rejects')),
    source_key    TEXT,                     -- cost, usage: source/billing-period
    dates         DATE[] NOT NULL DEFAULT '{}',
    ingest_id     UUID NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ
);
CREATE INDEX ingest_outbox_pending ON ingest_outbox (entry_id) WHERE published_at IS NULL;
