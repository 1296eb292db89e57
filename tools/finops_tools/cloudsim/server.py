"""The simulator's HTTP side: the executor endpoint governance calls (signed as
Standard Webhooks say, verified with the `standardwebhooks` package) and its state."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from finops_tools.cloudsim.simulator import Simulator

__all__ = ["create_app"]


def create_app(simulator: Simulator, secret: str) -> FastAPI:
    """`POST /deallocate` (execute: stop; reverse: start) and `GET /resources`."""
    app = FastAPI(title="finops cloudsim")
    verifier = Webhook(secret)
    app.state.calls = []

    @app.post("/deallocate")
    async def deallocate(request: Request) -> dict[str, Any]:
        body = await request.body()
        try:
            verifier.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            raise HTTPException(401, f"bad signature: {exc}") from None
        call = json.loads(body)
        ids = [r["resource_id"] for r in call.get("resources", [])]
        reverse = call.get("operation") == "reverse"
        changed = simulator.set_running(ids, running=reverse)
        answer = {
            "operation": call.get("operation"),
            "changed": changed,
            "at": simulator.sim_now().isoformat(),
            "webhook_id": request.headers.get("webhook-id"),
        }
        app.state.calls.append(answer)
        return answer

    @app.get("/resources")
    async def resources() -> dict[str, Any]:
        return {
            "sim_time": simulator.sim_now().isoformat(),
            "resources": [
                {
                    "resource_id": ident,
                    "name": r.name,
                    "provider": r.provider,
                    "running": simulator.running[ident],
                    "tags": r.tags,
                }
                for ident, r in simulator.resources.items()
            ],
            "spend": str(simulator.spend()),
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
