"""Prometheus's HTTP API: range queries day by day, turned into usage rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from finops.domain.usage_pull import (
    DAY_SECONDS,
    PullSpec,
    Series,
    UsageRows,
    evaluation_instants,
    month_chunks,
    to_usage_rows,
)
from finops.errors import ProviderFetchError

__all__ = ["PrometheusClient", "pull_usage"]


class PrometheusClient:
    """`/api/v1/query_range` over an injected httpx.AsyncClient (explicit timeouts)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def daily_series(
        self, base_url: str, query: str, first: date, last: date
    ) -> list[Series]:
        """The query at the end of each day first..last (step 1d), as series."""
        start, end = evaluation_instants(first, last)
        url = f"{base_url.rstrip('/')}/api/v1/query_range"
        params: dict[str, str | int] = {
            "query": query,
            "start": start,
            "end": end,
            "step": DAY_SECONDS,
        }
        try:
            answer = await self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ProviderFetchError(f"prometheus at {base_url}: {exc!r}") from None
        body = _json(answer, base_url)
        if answer.status_code != 200 or body.get("status") != "success":
            error = body.get("error") or answer.reason_phrase
            raise ProviderFetchError(
                f"prometheus at {base_url} refused the query {query!r}: {error}"
            )
        return _series(body, base_url)


def _json(answer: httpx.Response, base_url: str) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise ProviderFetchError(
            f"prometheus at {base_url} answered HTTP {answer.status_code}, not JSON"
        ) from None
    return body if isinstance(body, dict) else {}


def _series(body: dict[str, Any], base_url: str) -> list[Series]:
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise ProviderFetchError(
            f"prometheus at {base_url}: expected a matrix, got {data.get('resultType')}"
        )
    return [
        Series(
            labels={str(k): str(v) for k, v in item.get("metric", {}).items()},
            points=[(float(t), str(v)) for t, v in item.get("values", [])],
        )
        for item in data.get("result", [])
    ]


async def pull_usage(
    client: PrometheusClient, spec: PullSpec, first: date, last: date
) -> UsageRows:
    """Usage rows of days first..last: one range query per calendar month."""
    series: list[Series] = []
    for chunk_first, chunk_last in month_chunks(first, last):
        series += await client.daily_series(
            spec.prometheus, spec.query, chunk_first, chunk_last
        )
    return to_usage_rows(series, metric=spec.metric, node=spec.node)
