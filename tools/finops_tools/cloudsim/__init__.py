"""A small cloud simulator for the governance demo and tests: resources that bill
hourly FOCUS 1.3 lines into ingest on an accelerated clock, and an executor endpoint
that deallocates them (they stop billing) or starts them again."""
