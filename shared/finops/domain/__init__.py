"""The pure domain: money, periods, records, the cost graph, rules, allocation, FOCUS.

No I/O frameworks here (tests/unit/test_import_rules.py); contracts, file formats and
adapters build on this layer, never the reverse.
"""
