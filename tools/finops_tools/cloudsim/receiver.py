"""A webhook receiver as a user would write one: verifies each request's Standard
Webhooks signature with the `standardwebhooks` package and records what arrived.

`python -m finops_tools.cloudsim.receiver --port P --secret S --record FILE.jsonl
[--fail-first N] [--status CODE] [--delay-s S]`: answers CODE (default 503) to the
first N requests; waits S seconds before answering each.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["main", "make_server"]


def make_server(
    port: int,
    secret: str,
    record: Path,
    *,
    fail_first: int = 0,
    status: int = 503,
    delay_s: float = 0.0,
) -> ThreadingHTTPServer:
    verifier = Webhook(secret)
    lock = threading.Lock()
    seen = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                seen["count"] += 1
                failing = seen["count"] <= fail_first
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            entry: dict[str, Any] = {
                "path": self.path,
                "received_at": arrived,
                "verified": verified,
                "answered": status if failing else (200 if verified else 401),
                "headers": {
                    k: headers.get(k)
                    for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
                },
                "body": body.decode(),
            }
            if delay_s:
                time.sleep(delay_s)
            with lock, record.open("a") as out:
                out.write(json.dumps(entry) + "\n")
            self.send_response(entry["answered"])
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok":true}' if entry["answered"] == 200 else b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # governance sends up to 20 at once

    return Server(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=503)
    parser.add_argument("--delay-s", type=float, default=0.0)
    args = parser.parse_args()
    server = make_server(
        args.port,
        args.secret,
        args.record,
        fail_first=args.fail_first,
        delay_s=args.delay_s,
        status=args.status,
    )
    print(f"receiving on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
