"""`finops focus normalize` and `finops focus summary` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finops_tools.cli import app, main
from tests.unit.focus.conftest import DATA

RULES = str(DATA / "rules.yaml")


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_normalize_writes_costs_and_rejects(tmp_path: Path) -> None:
    costs, rejects = tmp_path / "costs.csv", tmp_path / "rejects.csv"
    files = [str(DATA / "focus_1_1.csv"), str(DATA / "bad_rows.csv")]
    result = CliRunner().invoke(
        app,
        [
            "focus",
            "normalize",
            *files,
            "--rules",
            RULES,
            "--output",
            str(costs),
            "--rejects",
            str(rejects),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "13 rows from 2 file(s): 5 accepted, 8 rejected" in result.output
    assert "accepted cost by provider: AWS 21.250001" in result.output
    assert costs.read_text().splitlines() == [
        "node,date,dimension,amount",
        "payments_db,2025-01-05,Databases,12.500000",
        "search,2025-01-05,Compute,3.000001",
        "unmapped,2024-09-01,Compute,1.000000",
        "unmapped,2024-09-02,Storage,6.000000",
        "unmapped,2025-01-05,Compute,-1.250000",
    ]
    report = rejects.read_text().splitlines()
    assert report[0] == "file,line,reason" and len(report) == 9
    assert report[1] == f"{DATA / 'bad_rows.csv'},3,BilledCost is not a number: 'abc'"


def _run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr("sys.argv", ["finops", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nothing.csv", "no such file"),
        ("unknown_layout.csv", "unknown layout, missing columns"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
    message: str,
) -> None:
    output = tmp_path / "costs.csv"
    files = [str(DATA / "focus_1_1.csv"), str(DATA / name)]
    args = ["focus", "normalize", *files, "--rules", RULES, "--output", str(output)]
    assert _run_main(monkeypatch, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_summary_as_json() -> None:
    result = CliRunner().invoke(
        app, ["focus", "summary", str(DATA / "focus_1_1.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["total"] == "14.250001"
    assert summary["spend"]["provider"] == {"AWS": "14.250001"}
    assert summary["spend"]["charge_category"]["Credit"] == "-1.250000"
    assert summary["tags"]["tagged_rows"] == 2


def test_summary_as_tables() -> None:
    result = CliRunner().invoke(app, ["focus", "summary", str(DATA / "focus_1_2.csv")])
    assert result.exit_code == 0, result.output
    assert "service category" in result.output and "Microsoft" in result.output
    assert "tagged: 1 rows" in result.output


def test_normalize_reads_parquet_and_named_provider_profiles(tmp_path: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    parquet = tmp_path / "bill.parquet"
    pq.write_table(pcsv.read_csv(DATA / "focus_1_2.csv"), parquet)
    renamed = tmp_path / "january.csv"
    renamed.write_bytes((DATA / "snowflake.csv").read_bytes())
    costs = tmp_path / "costs.csv"
    result = CliRunner().invoke(
        app,
        [
            "focus",
            "normalize",
            str(parquet),
            str(renamed),
            "--profile",
            "snowflake",
            "--rules",
            RULES,
            "--output",
            str(costs),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Microsoft 6.000000, Snowflake 643.000000" in result.output
    rows = costs.read_text().splitlines()
    assert "azure_lab_vms,2025-02-09,Compute,4.000000" in rows
    assert len(rows) == 1 + 2 + 2 * 31  # header, Azure, two Snowflake dimensions


def test_rules_naming_absent_columns_are_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - when: {ServiceCategroy: Compute}\n    node: x\n")
    args = ["focus", "normalize", str(DATA / "focus_1_2.csv"), "--rules", str(rules)]
    with pytest.raises(SystemExit) as exited:
        monkeypatch.setattr(
            "sys.argv", ["finops", *args, "--output", str(tmp_path / "c.csv")]
        )
        main()
    assert exited.value.code in (0, None)
    assert "rules name absent columns: ServiceCategroy" in capsys.readouterr().err
