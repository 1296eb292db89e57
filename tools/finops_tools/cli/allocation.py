"""`finops allocate`, `finops explain` and `finops synth`.

Each command imports what it alone needs when it runs: `allocate --summary-only`
pays for neither the result writers (Parquet), explain nor the synthetic generator.
"""

from pathlib import Path
from typing import Annotated

import typer

from finops.formats.engine_files import load_engine, parse_day
from finops_tools.cli.allocate_plain import allocate_files, step

__all__ = ["register"]

GraphOpt = Annotated[Path, typer.Option("--graph", help="Graph file (YAML or JSON).")]
CostsOpt = Annotated[Path, typer.Option("--costs", help="Costs CSV.")]
UsageOpt = Annotated[Path | None, typer.Option("--usage", help="Usage CSV.")]


def register(app: typer.Typer) -> None:
    """Add the allocation commands to the root app."""
    app.command(help="Allocate shared costs over the graph.")(allocate)
    app.command(help="Explain how a node's cost was built.")(explain)
    app.command(help="Write a synthetic organisation (graph, costs, usage).")(synth)


def allocate(
    graph: GraphOpt,
    costs: CostsOpt,
    usage: UsageOpt = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (ISO).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (ISO).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help=".json/.csv/.parquet")
    ] = None,
    summary_only: Annotated[
        bool, typer.Option("--summary-only", help="Print the summary as JSON.")
    ] = False,
) -> None:
    allocate_files(
        graph,
        costs,
        usage,
        from_=from_,
        to=to,
        output=output,
        summary_only=summary_only,
    )


def explain(
    graph: GraphOpt,
    costs: CostsOpt,
    node: Annotated[str, typer.Option("--node")],
    date: Annotated[str, typer.Option("--date")],
    dimension: Annotated[str, typer.Option("--dimension")],
    usage: UsageOpt = None,
) -> None:
    from finops.domain.allocation.explain import explain as explain_cost
    from finops.domain.allocation.explain import render

    day = parse_day(date, "--date")
    assert day is not None
    engine = load_engine(graph, costs, usage, first=day, last=day)
    print("\n".join(render(explain_cost(engine, node, day, dimension))))


def synth(
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")],
    nodes: Annotated[int, typer.Option("--nodes", min=4)] = 200,
    edges: Annotated[int, typer.Option("--edges", min=1)] = 600,
    days: Annotated[int, typer.Option("--days", min=1)] = 30,
    dimensions: Annotated[int, typer.Option("--dimensions", min=1, max=8)] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    start: Annotated[
        str, typer.Option("--start", help="First day (ISO).")
    ] = "2025-01-01",
) -> None:
    from finops.domain.allocation.synth import SynthOptions, generate_org
    from finops.formats.engine_files import write_org

    first = parse_day(start, "--start")
    assert first is not None
    options = SynthOptions(
        nodes=nodes,
        edges=edges,
        days=days,
        dimensions=dimensions,
        seed=seed,
        start=first,
    )
    paths = step(
        "writing synthetic organisation", lambda: write_org(generate_org(options), out)
    )
    for path in paths:
        print(path)
