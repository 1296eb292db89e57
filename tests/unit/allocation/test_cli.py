"""`finops allocate`, `explain` and `synth` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finops_tools.cli import allocate_plain, allocation, main
from finops_tools.cli.allocate_plain import plain_call

GRAPH = """
nodes:
  - {id: vm, type: resource}
  - {id: db, type: shared}
  - {id: shop, type: product}
  - {id: blog, type: product}
edges:
  - {from: vm, to: db, strategy: equal}
  - {from: db, to: shop, strategy: capped_proportional, params: {metric: req, cap: 50}}
  - {from: db, to: blog, strategy: capped_proportional, params: {metric: req, cap: 50}}
"""
COSTS = """node,date,dimension,amount,note
vm,2025-03-01,compute,600.25,x
vm,2025-03-01,compute,399.75,y
db,2025-03-02,compute,-10,credit
"""
USAGE = """node,date,metric,value,labels
shop,2025-03-01,req,90,"{""env"": ""prod""}"
blog,2025-03-01,req,10,
"""


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["finops", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "graph": tmp_path / "g.yaml",
        "costs": tmp_path / "c.csv",
        "usage": tmp_path / "u.csv",
    }
    paths["graph"].write_text(GRAPH)
    paths["costs"].write_text(COSTS)
    paths["usage"].write_text(USAGE)
    return paths


def _args(files: dict[str, Path]) -> list[str]:
    return [
        "--graph",
        str(files["graph"]),
        "--costs",
        str(files["costs"]),
        "--usage",
        str(files["usage"]),
    ]


def test_summary_only_prints_the_summary_as_json(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        ["allocate", *_args(files), "--summary-only"], monkeypatch, capsys
    )
    assert code == 0, err
    assert json.loads(out) == {
        "raw_total": "990.000000",
        "allocated_to_products": "990.000000",
        "unallocated": "0.000000",
        "coverage": 1.0,
    }


def test_allocate_gives_back_the_gil_switch_interval(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The short interval (decision 0250) lasts while the reading threads run only."""
    before = sys.getswitchinterval()
    code, _, err = run(
        ["allocate", *_args(files), "--summary-only"], monkeypatch, capsys
    )
    assert code == 0, err
    files["usage"].write_text("node,date,metric,value\nnobody,2025-03-01,req,1\n")
    code, _, err = run(
        ["allocate", *_args(files), "--summary-only"], monkeypatch, capsys
    )
    assert code == 2, err  # failed while reading
    assert sys.getswitchinterval() == before


def test_json_output_has_summary_nodes_and_flows(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "out.json"
    code, _, err = run(
        ["allocate", *_args(files), "--output", str(target)], monkeypatch, capsys
    )
    assert code == 0, err
    doc = json.loads(target.read_text())
    shop = [
        r for r in doc["nodes"] if r["node"] == "shop" and r["date"] == "2025-03-01"
    ]
    assert shop == [
        {
            "node": "shop",
            "date": "2025-03-01",
            "dimension": "compute",
            "direct": "0.000000",
            "indirect": "500.000000",
            "holistic": "500.000000",
            "allocated_out": "0.000000",
            "retained": "500.000000",
        }
    ]
    flow = [f for f in doc["flows"] if f["to"] == "blog" and f["date"] == "2025-03-01"]
    assert flow == [
        {
            "from": "db",
            "to": "blog",
            "date": "2025-03-01",
            "dimension": "compute",
            "amount": "500.000000",
            "strategy": "capped_proportional",
            "share": 0.5,
        }
    ]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_outputs_hold_the_node_rows(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    target = tmp_path / f"out{suffix}"
    code, _, err = run(
        [
            "allocate",
            *_args(files),
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-01",
            "--output",
            str(target),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    if suffix == ".csv":
        text = target.read_text()
        assert '"shop",2025-03-01,"compute",0.000000,500.000000' in text
    else:
        rows = pq.read_table(target).to_pylist()
        assert {r["node"] for r in rows} == {"vm", "db", "shop", "blog"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "costs",
            "node,date,dimension,amount\nvm,2025-03-01,compute,1\nvm,2025-13-01,compute,1\n",
            r"c\.csv:3: field 'date': malformed date '2025-13-01'",
        ),
        (
            "costs",
            "node,date,dimension,amount\nvm,2025-03-01,compute,1\nvm,2025-03-02,compute,1.2.3\n",
            r"c\.csv:3: field 'amount': malformed amount",
        ),
        (
            "costs",
            "node,date,dimension\nvm,2025-03-01,compute\n",
            r"c\.csv:1: missing column 'amount'",
        ),
        (
            "costs",
            "node,date,dimension,amount\nghost,2025-03-01,compute,1\n",
            r"c\.csv:2: field 'node': unknown node 'ghost'",
        ),
        (
            "usage",
            "node,date,metric,value\nshop,2025-03-01,req,-4\n",
            r"u\.csv:2: field 'value': usage value is negative",
        ),
        (
            "usage",
            "node,date,metric,value,labels\nshop,2025-03-01,req,4,[1]\n",
            r"u\.csv:2: labels must be a JSON object",
        ),
        ("graph", "nodes: [{id: a, type: planet}]\n", r"g\.yaml: nodes\.0\.type"),
        ("graph", "nodes: [\n", r"g\.yaml:2: invalid YAML"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    message: str,
) -> None:
    files[name].write_text(text)
    target = tmp_path / "out.json"
    code, _, err = run(
        ["allocate", *_args(files), "--output", str(target)], monkeypatch, capsys
    )
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert __import__("re").search(message, err), err
    assert not target.exists()
    assert list(tmp_path.glob(".out.json*")) == []


def test_a_cycle_in_the_graph_file_is_printed(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files["graph"].write_text(GRAPH + "  - {from: shop, to: vm, strategy: equal}\n")
    code, _, err = run(
        ["allocate", *_args(files), "--summary-only"], monkeypatch, capsys
    )
    assert code == 2
    assert "cycle in cost graph: db -> shop -> vm -> db" in err


def test_output_and_summary_only_are_exclusive(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["allocate", *_args(files)], monkeypatch, capsys)
    assert code == 2 and "exactly one of --output and --summary-only" in err


def test_explain_prints_the_chain_down_to_direct_costs(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "explain",
        *_args(files),
        "--node",
        "shop",
        "--date",
        "2025-03-01",
        "--dimension",
        "compute",
    ]
    code, out, err = run(args, monkeypatch, capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("shop 2025-03-01 compute: holistic 500.000000")
    assert (
        "<- 500.000000 from db by capped_proportional (share 0.500000, usage req=90)"
        in out
    )
    assert "<- 1000.000000 from vm by equal (share 1.000000)" in out
    assert "vm 2025-03-01 compute: holistic 1000.000000 = direct 1000.000000" in out


def test_synth_is_deterministic_and_allocates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--nodes",
        "60",
        "--edges",
        "150",
        "--days",
        "10",
        "--dimensions",
        "3",
        "--seed",
        "7",
    ]
    for out_dir in ("one", "two"):
        code, _, err = run(
            ["synth", *args, "--out", str(tmp_path / out_dir)], monkeypatch, capsys
        )
        assert code == 0, err
    for name in ("graph.json", "costs.csv", "usage.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (
            tmp_path / "two" / name
        ).read_bytes()
    one = tmp_path / "one"
    alloc = [
        "allocate",
        "--graph",
        str(one / "graph.json"),
        "--costs",
        str(one / "costs.csv"),
        "--usage",
        str(one / "usage.csv"),
        "--summary-only",
    ]
    code, out, err = run(alloc, monkeypatch, capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert 0.5 < summary["coverage"] <= 1.0


def test_amounts_are_summed_exactly_before_rounding(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files["costs"].write_text(
        "node,date,dimension,amount\n"
        "vm,2025-03-01,compute,0.0000005\n"
        "vm,2025-03-01,compute,0.0000005\n"
        "vm,2025-03-01,compute,2.0000025\n"
    )
    code, out, err = run(
        ["allocate", *_args(files), "--summary-only"], monkeypatch, capsys
    )
    assert code == 0, err
    assert json.loads(out)["raw_total"] == "2.000004"


def test_the_day_range_limits_what_is_allocated(
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["allocate", *_args(files), "--from", "2025-03-02", "--to", "2025-03-02"]
    code, out, err = run([*args, "--summary-only"], monkeypatch, capsys)
    assert code == 0, err
    assert json.loads(out)["raw_total"] == "-10.000000"


def test_shuffled_input_rows_give_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    org = tmp_path / "org"
    synth_args = ["synth", "--nodes", "40", "--edges", "100", "--days", "5"]
    code, _, err = run(
        [*synth_args, "--seed", "3", "--out", str(org)], monkeypatch, capsys
    )
    assert code == 0, err
    for name in ("costs.csv", "usage.csv"):
        header, *rows = (org / name).read_text().splitlines()
        __import__("random").Random(5).shuffle(rows)
        (tmp_path / name).write_text("\n".join([header, *rows]) + "\n")
    outputs: list[bytes] = []
    for folder in (org, tmp_path):
        target = tmp_path / f"out-{len(outputs)}.json"
        args = ["allocate", "--graph", str(org / "graph.json")]
        args += [
            "--costs",
            str(folder / "costs.csv"),
            "--usage",
            str(folder / "usage.csv"),
        ]
        code, _, err = run([*args, "--output", str(target)], monkeypatch, capsys)
        assert code == 0, err
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


def test_the_program_ends_at_once_with_all_its_output(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As `finops` runs it (program, then os._exit once the result is out): the
    # summary on a pipe and the written file are whole, as in-process.
    _, summary, _ = run(
        ["allocate", *_args(files), "--summary-only"], monkeypatch, capsys
    )
    target = tmp_path / "out.json"
    run(["allocate", *_args(files), "--output", str(target)], monkeypatch, capsys)
    launched = [sys.executable, "-m", "finops_tools.cli", "allocate", *_args(files)]
    done = subprocess.run(
        [*launched, "--summary-only"], capture_output=True, text=True, check=True
    )
    assert done.stdout == summary and done.stderr == ""
    written = tmp_path / "again.json"
    subprocess.run([*launched, "--output", str(written)], check=True)
    assert written.read_bytes() == target.read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["--graph", "g.json", "--costs", "c.csv", "--summary-only"],
        ["--summary-only", "--costs", "c.csv", "--usage", "u.csv", "--graph", "g"],
        [
            *("--graph", "g", "--costs", "c", "--output", "out.parquet"),
            *("--from", "2025-01-01", "--to", "2025-02-01"),
        ],
        ["--graph", "g", "--costs", "c"],  # neither: the body's own error
    ],
)
def test_plain_arguments_make_the_call_typer_makes(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def record(*given: object, **named: object) -> None:
        calls.append((given, named))

    monkeypatch.setattr(allocate_plain, "allocate_files", record)
    monkeypatch.setattr(allocation, "allocate_files", record)
    call = plain_call(["allocate", *args])
    assert call is not None
    call()
    monkeypatch.setattr(sys, "argv", ["finops", "allocate", *args])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    assert calls[0] == calls[1]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--graph=g", "--costs", "c", "--summary-only"],
        ["--graph", "g", "--graph", "h", "--costs", "c", "--summary-only"],
        ["--graph", "g", "--summary-only"],
        ["--graph", "g", "--costs", "c", "--summary-only", "--summary-only"],
        ["--graph", "g", "--costs", "c", "--summary-only", "--verbose"],
        ["--graph", "g", "--costs"],
        ["--graph", "-g", "--costs", "c", "--summary-only"],
    ],
)
def test_other_arguments_are_left_to_typer(args: list[str]) -> None:
    assert plain_call(["allocate", *args]) is None
    assert plain_call(["explain", "--graph", "g"]) is None
