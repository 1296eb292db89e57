"""Grafana dashboards as code: `finops dashboards build` writes deploy/grafana."""
