"""Query parameters every read shares: the window, dimensions, currency, a page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request

from api.errors import ApiError
from finops.domain.identifiers import identifier_problem
from finops.domain.periods import FIRST_DAY, LAST_DAY

__all__ = [
    "Page",
    "PageParams",
    "Window",
    "WindowParams",
    "check_day",
    "check_identifier",
    "read_window",
    "refuse_control_characters",
    "split_dimensions",
]

DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Window:
    """Inclusive dates, the dimensions asked for (empty: all) and the currency."""

    start: date
    end: date
    dimensions: list[str]
    currency: str

    @property
    def days(self) -> list[date]:
        count = (self.end - self.start).days + 1
        return [self.start + timedelta(days=i) for i in range(count)]

    def to_json(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "dimensions": self.dimensions,
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class Page:
    """limit/offset of a paginated answer."""

    limit: int
    offset: int


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"{field}: {problem}",
        {"problems": [{"field": field, "problem": problem}]},
    )


def split_dimensions(values: list[str]) -> list[str]:
    """`dimension` may repeat and each value may hold several, comma-separated."""
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            problem = identifier_problem(name) if name else "empty dimension"
            if problem:
                raise _invalid("query.dimension", problem)
            if name not in found:
                found.append(name)
    return found


def check_identifier(value: str, field: str) -> None:
    """A node, dimension or metric id: 422 naming the field if it is not one."""
    problem = identifier_problem(value)
    if problem:
        raise _invalid(field, problem)


def refuse_control_characters(request: Request) -> None:
    """422 naming the parameter when any query or path value holds a control
    character: no route stores or matches one (PostgreSQL text cannot even hold
    NUL), so every route refuses them before any query runs."""
    for kind, items in (
        ("query", request.query_params.multi_items()),
        ("path", list(request.path_params.items())),
    ):
        for name, value in items:
            if isinstance(value, str):
                check_identifier(value, f"{kind}.{name}")


def check_day(day: date | None, field: str) -> None:
    """422 naming the field for a date outside the supported range."""
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise _invalid(field, f"dates lie within {FIRST_DAY} .. {LAST_DAY}")


async def read_window(
    request: Request,
    start: Annotated[
        date | None,
        Query(description="First day, inclusive (default: `end` - 29 days)."),
    ] = None,
    end: Annotated[
        date | None,
        Query(description="Last day, inclusive (default: the latest stored day)."),
    ] = None,
    dimension: Annotated[
        list[str],
        Query(
            description="Cost dimensions to include; repeat it or separate with "
            "commas (default: every dimension)."
        ),
    ] = [],  # noqa: B006 - FastAPI copies defaults
    currency: Annotated[
        str | None,
        Query(description="ISO 4217 code; must be the stored currency."),
    ] = None,
) -> Window:
    """The window a read covers."""
    check_day(start, "query.start")
    check_day(end, "query.end")
    stored = request.app.state.settings.currency
    if currency is not None and currency.upper() != stored:
        raise _invalid(
            "query.currency",
            f"amounts are stored in {stored}; no conversion to {currency!r}",
        )
    if end is None:
        latest = await request.app.state.reader.latest_day()
        end = max(latest or date.today(), start or FIRST_DAY)
    start = start or max(end - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY)
    if start > end:
        raise _invalid("query.start", f"start {start} is after end {end}")
    widest = request.app.state.settings.max_window_days
    if (end - start).days + 1 > widest:
        raise _invalid("query.end", f"a window spans at most {widest} days")
    return Window(start, end, split_dimensions(dimension), stored)


def read_page(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000_000, description="Items to skip.")
    ] = 0,
) -> Page:
    """limit and offset."""
    return Page(limit, offset)


WindowParams = Annotated[Window, Depends(read_window)]
PageParams = Annotated[Page, Depends(read_page)]
