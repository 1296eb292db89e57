"""The api's routes under /v1; each parses, calls one report and answers."""
