"""The report as one HTML page: inline CSS, server-drawn SVG, no script, no fetch."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from finops_tools.report.data import ReportData
from finops_tools.report.svg import bars, lines, sankey

__all__ = ["render_page"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;
min-width:180px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
.meter{background:#eee;width:160px;height:10px;display:inline-block}
.meter span{display:block;height:10px}
svg text{font-size:11px;fill:#333}.up{color:#c0392b}.down{color:#27ae60}
"""


def _m(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _card(label: str, key: str, value: Decimal, shown: str) -> str:
    return (
        f'<div class="card">{escape(label)}<b data-total="{key}" '
        f'data-value="{value}">{escape(shown)}</b></div>'
    )


def render_page(data: ReportData, *, currency: str = "USD") -> str:
    """The whole page as text."""
    top = sorted(data.trends, key=lambda p: -sum(data.trends[p].values()))[:5]
    cards = "".join(
        (
            _card("Raw cost", "raw_total", data.raw_total, _m(data.raw_total)),
            _card(
                "Allocated to products", "allocated", data.allocated, _m(data.allocated)
            ),
            _card("Unallocated", "unallocated", data.unallocated, _m(data.unallocated)),
            _card("Coverage", "coverage", data.coverage, f"{data.coverage:.2%}"),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>FinOps report {data.first} to {data.last}</title><style>{_CSS}</style></head>
<body>
<h1>FinOps report: {data.first} to {data.last} ({escape(currency)})</h1>
<section id="overview"><h2>Overview</h2><div class="cards">{cards}</div>
<h2>Spend by provider (bill lines)</h2>{bars(data.providers)}</section>
<section id="flows"><h2>Cost flows: providers → shared services → products</h2>
{sankey(data.flows, data.columns)}</section>
<section id="trends"><h2>Product trends (holistic cost per day, top five)</h2>
{lines({p: data.trends[p] for p in top})}</section>
<section id="budgets"><h2>Budgets</h2>{_budgets(data)}</section>
<section id="movers"><h2>Top movers (second half of the window vs the first)</h2>
{_movers(data)}</section>
</body></html>
"""


def _budgets(data: ReportData) -> str:
    if not data.budgets:
        return "<p>No budgets applied.</p>"
    rows = []
    for b in data.budgets:
        used = float((b.spent or 0) / b.amount * 100)
        colour = "#e15759" if used >= 100 else "#f28e2b" if used >= 80 else "#59a14f"
        rows.append(
            f"<tr><td>{escape(b.name)} ({escape(b.budget_id)})</td>"
            f"<td>{_m(b.amount)}</td><td>{_m(b.spent)}</td><td>{_m(b.forecast)}</td>"
            f'<td><span class="meter"><span style="width:{min(used, 100):.0f}%;'
            f'background:{colour}"></span></span> {used:.0f} %</td>'
            f"<td>{escape(b.thresholds)}</td><td>{b.firing}</td></tr>"
        )
    return (
        "<table><tr><th>budget</th><th>amount</th><th>spent</th><th>forecast</th>"
        "<th>used</th><th>thresholds</th><th>firing</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _movers(data: ReportData) -> str:
    rows = "".join(
        f"<tr><td>{escape(m.product)}</td><td>{_m(m.before)}</td><td>{_m(m.after)}</td>"
        f'<td class="{"up" if m.change > 0 else "down"}">{m.change:+,.2f}</td></tr>'
        for m in data.movers
    )
    return (
        "<table><tr><th>product</th><th>first half</th><th>second half</th>"
        f"<th>change</th></tr>{rows}</table>"
    )
