"""Charts drawn as SVG text on the server: the page needs no script and no network."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from html import escape

__all__ = ["PALETTE", "bars", "lines", "sankey"]

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def sankey(
    links: dict[tuple[str, str], Decimal],
    columns: dict[str, int],
    *,
    width: int = 960,
    height: int = 520,
) -> str:
    """A three-column Sankey diagram: node bars, links as bands of their amount."""
    size: dict[str, Decimal] = defaultdict(Decimal)
    out: dict[str, Decimal] = defaultdict(Decimal)
    into: dict[str, Decimal] = defaultdict(Decimal)
    for (source, target), amount in links.items():
        out[source] += amount
        into[target] += amount
    for node in set(out) | set(into):
        size[node] = max(out[node], into[node])
    stacks: dict[int, list[str]] = defaultdict(list)
    for node in sorted(size, key=lambda n: (-size[n], n)):
        stacks[columns.get(node, 1)].append(node)
    gap, bar, margin = 8, 14, 150
    tallest = max(
        (sum(size[n] for n in s) for s in stacks.values()), default=Decimal(1)
    )
    scale = (
        height - 20 - gap * max((len(s) for s in stacks.values()), default=1)
    ) / float(tallest or 1)
    x_of = {c: margin + c * (width - 2 * margin - bar) / 2 for c in range(3)}
    top: dict[str, float] = {}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart sankey" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="Cost flows">'
    ]
    for nodes in stacks.values():
        y = 10.0
        for node in nodes:
            top[node] = y
            y += float(size[node]) * scale + gap
    used_out: dict[str, float] = defaultdict(float)
    used_in: dict[str, float] = defaultdict(float)
    colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted(size))}
    for (source, target), amount in sorted(links.items(), key=lambda kv: -kv[1]):
        thick = float(amount) * scale
        x0 = x_of[columns.get(source, 1)] + bar
        x1 = x_of[columns.get(target, 1)]
        y0 = top[source] + used_out[source] + thick / 2
        y1 = top[target] + used_in[target] + thick / 2
        used_out[source] += thick
        used_in[target] += thick
        mid = (x0 + x1) / 2
        parts.append(
            f'<path class="link" d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} '
            f'{mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" fill="none" '
            f'stroke="{colour[source]}" stroke-opacity="0.35" '
            f'stroke-width="{max(thick, 1):.1f}"><title>{escape(source)} → '
            f"{escape(target)}: {_money(amount)}</title></path>"
        )
    for node, y in top.items():
        column = columns.get(node, 1)
        x = x_of[column]
        h = max(float(size[node]) * scale, 1)
        anchor, tx = ("end", x - 6) if column == 0 else ("start", x + bar + 6)
        parts.append(
            f'<rect class="node" x="{x:.1f}" y="{y:.1f}" width="{bar}" '
            f'height="{h:.1f}" fill="{colour[node]}"><title>{escape(node)}: '
            f"{_money(size[node])}</title></rect>"
            f'<text x="{tx:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="{anchor}">'
            f"{escape(node)} {_money(size[node])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def lines(
    series: dict[str, dict[date, Decimal]], *, width: int = 960, height: int = 300
) -> str:
    """One line per series over its days, a legend under the axis."""
    days = sorted({d for values in series.values() for d in values})
    peak = max((v for s in series.values() for v in s.values()), default=Decimal(1))
    left, bottom, top = 70, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    step = plot_w / max(len(days) - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lines" '
        f'viewBox="0 0 {width} {height + 20 * len(series)}" width="{width}" '
        f'height="{height + 20 * len(series)}" role="img" aria-label="Trends">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" '
        f'y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{_money(peak)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    if days:
        parts.append(
            f'<text x="{left}" y="{top + plot_h + 16}">{days[0]}</text>'
            f'<text x="{width - 10}" y="{top + plot_h + 16}" text-anchor="end">'
            f"{days[-1]}</text>"
        )
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(
            f"{left + days.index(d) * step:.1f},"
            f"{top + plot_h - float(v / (peak or 1)) * plot_h:.1f}"
            for d, v in sorted(values.items())
        )
        y = height + 20 * i + 5
        parts.append(
            f'<polyline class="series" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<rect x="{left}" y="{y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{y + 11}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bars(values: dict[str, Decimal], *, width: int = 460) -> str:
    """Horizontal bars, largest first, each labelled with its amount."""
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    peak = max((v for _, v in ranked), default=Decimal(1)) or Decimal(1)
    row, label = 26, 120
    height = row * len(ranked) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="Spend by provider">'
    ]
    for i, (name, value) in enumerate(ranked):
        w = max(float(value / peak) * (width - label - 110), 1)
        y = 5 + i * row
        parts.append(
            f'<text x="{label - 6}" y="{y + 15}" text-anchor="end">{escape(name)}'
            f'</text><rect class="bar" x="{label}" y="{y}" width="{w:.1f}" '
            f'height="{row - 8}" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{label + w + 6:.1f}" y="{y + 15}">{_money(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
