"""Cost files: the fast block reader agrees with the exact row-by-row reader."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from finops.domain.allocation.tables import CostTable
from finops.formats.costfile import load_costs
from finops.formats.inputfiles import costs_slowly

AMOUNTS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=9, allow_nan=False
)
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["2025-01-01", "2025-01-02", "2024-12-31"]),
        st.sampled_from(["compute", "storage"]),
        AMOUNTS,
    ),
    min_size=1,
    max_size=30,
)


def _as_dict(table: CostTable) -> dict[tuple[str, int, str], int]:
    return {
        (table.node_ids[n], int(d), table.dimensions[k]): int(m)
        for n, d, k, m in zip(
            table.node, table.day, table.dimension, table.micros, strict=True
        )
    }


@settings(max_examples=60, deadline=None)
@given(ROWS)
def test_fast_reader_sums_exactly_like_the_row_reader(
    rows: list[tuple[str, str, str, Decimal]],
) -> None:
    lines = ["node,date,dimension,amount"] + [f"{n},{d},{k},{a}" for n, d, k, a in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_text("\n".join(lines) + "\n")
        assert _as_dict(load_costs(path)) == _as_dict(costs_slowly(path, None))
