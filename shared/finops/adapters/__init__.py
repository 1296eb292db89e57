"""Adapters at the edges: Kafka, PostgreSQL. Domain code never imports these."""
