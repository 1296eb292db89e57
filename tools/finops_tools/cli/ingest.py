"""`finops ingest`: upload bills, node costs or usage to the running ingest service."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from finops.contracts.settings import DevStackSettings
from finops.domain.focus.mapping import load_rules
from finops.errors import InputError, StackError
from finops_tools.cli.stack_address import stack_token

__all__ = [
    "check_running",
    "default_url",
    "ingest",
    "ingest_client",
    "register",
    "upload_file",
]

_CHUNK: Final = 1 << 20
# Files at least this large show an upload progress bar (when stderr is a terminal).
_PROGRESS_BYTES: Final = 32 << 20
_TIMEOUT: Final = httpx.Timeout(900.0, connect=5.0)


class Format(StrEnum):
    """What the files hold."""

    FOCUS = "focus"
    CUR = "cur"
    NODE_COSTS = "node-costs"
    USAGE = "usage"


def register(app: typer.Typer) -> None:
    """Add the `ingest` command."""
    app.command(
        name="ingest", help="Upload files to the running stack's ingest service."
    )(ingest)


def default_url() -> str:
    """The local stack's ingest service."""
    return f"http://127.0.0.1:{DevStackSettings().service_base_port}"


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files to upload.")],
    fmt: Annotated[Format, typer.Option("--format", help="What the files hold.")],
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Mapping rules YAML (FOCUS).")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Who states these figures.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="aws, azure or snowflake CSVs.")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="The ingest service (default: stack's).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON results.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Bearer token with the ingest scope (default: FINOPS_TOKEN, else the"
            " dev stack's admin token).",
        ),
    ] = None,
) -> None:
    _check_inputs(files, rules)
    base = (url or default_url()).rstrip("/")
    with ingest_client(base, token, timeout=_TIMEOUT) as client:
        check_running(client, base)
        params = _params(client, fmt, rules, source, profile)
        for path in files:
            result = upload_file(client, path, params)
            print(json.dumps(result) if as_json else _report(result))


def ingest_client(
    base: str, token: str | None, *, timeout: httpx.Timeout
) -> httpx.Client:
    """A client of the ingest service sending the bearer token (stack_token)."""
    found = stack_token(token)
    headers = {"Authorization": f"Bearer {found}"} if found else {}
    return httpx.Client(base_url=base, timeout=timeout, headers=headers)


def _check_inputs(files: list[Path], rules: Path | None) -> None:
    """Refuse missing files or bad rules before anything is sent."""
    for path in files:
        if not path.is_file():
            raise InputError("no such file", file=str(path))
    if rules is not None:
        load_rules(rules)


def check_running(client: httpx.Client, base: str) -> None:
    """The service must answer; otherwise say how to start it."""
    try:
        client.get("/healthz", timeout=5.0)
    except httpx.HTTPError:
        raise StackError(
            f"the ingest service does not answer at {base}; start the stack with "
            "`finops dev up` or pass --url"
        ) from None


def _params(
    client: httpx.Client,
    fmt: Format,
    rules: Path | None,
    source: str | None,
    profile: str | None,
) -> dict[str, str]:
    """Query parameters of every upload; rules are sent once and named by id."""
    params = {"format": fmt.value, "source": source, "profile": profile}
    if rules is not None:
        answer = client.put("/rules", content=rules.read_bytes())
        _raise_for(answer, str(rules))
        params["rules"] = answer.json()["rules_id"]
    return {k: v for k, v in params.items() if v is not None}


def upload_file(
    client: httpx.Client, path: Path, params: dict[str, str]
) -> dict[str, Any]:
    """Stream one file to POST /ingests; returns the result (InputError if refused)."""
    # The path as given, folders included: without --source, node costs and usage
    # are stated by it (teamA/costs.csv and teamB/costs.csv are two sources).
    query = {**params, "filename": path.as_posix()}
    with _UploadProgress(path) as advance:
        answer = client.post(
            "/ingests",
            params=query,
            content=_chunks(path, advance),
            # A known length spares the server chunked decoding.
            headers={"Content-Length": str(path.stat().st_size)},
        )
    _raise_for(answer, str(path))
    result: dict[str, Any] = answer.json()
    return result


def _raise_for(answer: httpx.Response, what: str) -> None:
    """A refused upload or bad request becomes one InputError line."""
    if answer.status_code < 400:
        return
    try:
        body = answer.json()
    except ValueError:
        body = {"detail": answer.text}
    reason = body.get("error") or body.get("detail") or answer.reason_phrase
    if isinstance(reason, dict):  # {"code", "message", "details"} (401, 403)
        reason = reason.get("message", reason)
    if answer.status_code in (401, 403):
        reason = f"{reason} (pass --token or set FINOPS_TOKEN; finops tokens create)"
    raise InputError(f"refused by the ingest service: {reason}", file=what)


def _chunks(path: Path, advance: Callable[[int], None]) -> Iterator[bytes]:
    """The file in 1 MiB chunks, reporting progress."""
    with path.open("rb") as data:
        while chunk := data.read(_CHUNK):
            advance(len(chunk))
            yield chunk


class _UploadProgress:
    """An upload progress bar on stderr for large files on a terminal; else nothing."""

    def __init__(self, path: Path) -> None:
        self._size = path.stat().st_size
        self._name = path.name
        self._bar: Progress | None = None

    def __enter__(self) -> Callable[[int], None]:
        if self._size < _PROGRESS_BYTES or not sys.stderr.isatty():
            return lambda _n: None
        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        task = self._bar.add_task(f"upload {self._name}", total=self._size)
        return lambda n: self._bar.advance(task, n) if self._bar else None

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _report(result: dict[str, Any]) -> str:
    """One line of counts per file, then the totals per provider."""
    totals = ", ".join(f"{k} {v}" for k, v in result["provider_totals"].items())
    again = " (already ingested; nothing changed)" if result.get("duplicate") else ""
    restated = result.get("restated") or []
    if restated:
        again += (
            f"\n  restates what an earlier delivery said for: {', '.join(restated)}"
        )
    return (
        f"{result['file_name']}: {result['rows_read']} rows read, "
        f"{result['rows_accepted']} accepted, {result['rows_rejected']} rejected; "
        f"ingest {result['ingest_id']}{again}\n"
        f"  accepted cost by provider: {totals or 'none'}"
    )
