"""FOCUS ingest, offline part: read bills, normalise lines, map them to graph nodes.

The ingest service builds on these calls:

- `identify_file(path)`: content hash (sha256) of a delivered file.
- `normalize_file(path, rules, source=..., keep_lines=True)`: streams
  `NormalizedBatch`es (node costs, rejects, and normalised lines with their line
  numbers and restatement `source`); raises `InputError` for an unknown layout.
- `partitions_of(lines)`, `plan_delivery(held, content_hash, partitions)`: which
  (source, billing period) partitions a file replaces and which it already stated.
- `line_key(content_hash, line)`, `costs_from_lines(lines)`, `to_cost_records(lines)`.
- `read_usage(path)`, `parse_usage_rows(rows)`: usage metrics with rejects.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finops.domain.focus.aggregate import CostTotals, to_node_costs, write_costs
    from finops.domain.focus.bills import FileIdentity, identify_file, open_layout
    from finops.domain.focus.linetable import line_key, to_cost_records
    from finops.domain.focus.mapping import MappingRules, load_rules
    from finops.domain.focus.normalize import (
        NormalizedBatch,
        costs_from_lines,
        iter_normalized,
        normalize_file,
    )
    from finops.domain.focus.offline import NormalizeResult, normalize_paths
    from finops.domain.focus.rejects import Reject, write_rejects
    from finops.domain.focus.restatement import (
        Delivery,
        RestatementPlan,
        Statement,
        apply_delivery,
        partitions_of,
        plan_delivery,
    )
    from finops.domain.focus.summary import Summary, summarize_files
    from finops.domain.focus.usage import parse_usage_rows, read_usage

__all__ = [
    "CostTotals",
    "Delivery",
    "FileIdentity",
    "MappingRules",
    "NormalizeResult",
    "NormalizedBatch",
    "Reject",
    "RestatementPlan",
    "Statement",
    "Summary",
    "apply_delivery",
    "costs_from_lines",
    "identify_file",
    "iter_normalized",
    "line_key",
    "load_rules",
    "normalize_file",
    "normalize_paths",
    "open_layout",
    "parse_usage_rows",
    "partitions_of",
    "plan_delivery",
    "read_usage",
    "summarize_files",
    "to_cost_records",
    "to_node_costs",
    "write_costs",
    "write_rejects",
]


# Submodule of each name above: importing one submodule (as the allocation's file
# readers import `usage`) runs this package first, and loading every submodule here
# (Parquet, YAML, the bill layouts) cost ~50 ms on every such import.
_MODULE_OF: dict[str, str] = {
    "CostTotals": "aggregate",
    "Delivery": "restatement",
    "FileIdentity": "bills",
    "MappingRules": "mapping",
    "NormalizeResult": "offline",
    "NormalizedBatch": "normalize",
    "Reject": "rejects",
    "RestatementPlan": "restatement",
    "Statement": "restatement",
    "Summary": "summary",
    "apply_delivery": "restatement",
    "costs_from_lines": "normalize",
    "identify_file": "bills",
    "iter_normalized": "normalize",
    "line_key": "linetable",
    "load_rules": "mapping",
    "normalize_file": "normalize",
    "normalize_paths": "offline",
    "open_layout": "bills",
    "parse_usage_rows": "usage",
    "partitions_of": "restatement",
    "plan_delivery": "restatement",
    "read_usage": "usage",
    "summarize_files": "summary",
    "to_cost_records": "linetable",
    "to_node_costs": "aggregate",
    "write_costs": "aggregate",
    "write_rejects": "rejects",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
