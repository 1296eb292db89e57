"""An upload that stops half way through its body, so a test can kill the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

import httpx

__all__ = ["HalfUpload"]


class HalfUpload:
    """POST /ingests on a thread: `start` returns once half the body is sent,
    `finish` sends the rest and returns what the client got (a response or the
    error it raised)."""

    def __init__(
        self, url: str, body: bytes, params: Mapping[str, str], token: str
    ) -> None:
        self._url, self._body, self._params, self._token = url, body, params, token
        self._half, self._go_on = threading.Event(), threading.Event()
        self._outcome: list[httpx.Response | httpx.HTTPError] = []
        self._sender = threading.Thread(target=self._send)

    def start(self) -> None:
        self._sender.start()
        assert self._half.wait(30), "half the body was never sent"

    def finish(self) -> httpx.Response | httpx.HTTPError:
        self._go_on.set()
        self._sender.join(60)
        return self._outcome[0]

    def _slowly(self) -> Iterator[bytes]:
        middle = len(self._body) // 2
        yield self._body[:middle]
        self._half.set()
        self._go_on.wait(30)
        yield self._body[middle:]

    def _send(self) -> None:
        try:
            self._outcome.append(
                httpx.post(
                    f"{self._url}/ingests",
                    params=dict(self._params),
                    content=self._slowly(),
                    headers={"Authorization": f"Bearer {self._token}"},
                    timeout=30,
                )
            )
        except httpx.HTTPError as exc:
            self._outcome.append(exc)
