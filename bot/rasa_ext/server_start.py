"""The Rasa server's start-up, adjusted where Rasa offers no setting.

Rasa's ``add_root_route`` gives every server a ``/`` that answers "Hello from Rasa: <version>",
telling anyone which Rasa (and its known flaws) runs here. Rasa calls it while it builds the
server app, after our channels are imported and before the model loads: the replacement answers
``/`` without naming anything, and stops a server whose SALESBOT_SECRET is too weak to check tokens.
"""

from __future__ import annotations

import rasa.server
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import require_strong_secret


def add_root_route(app: Sanic) -> None:
    """``/`` for health checks (bot/cli.py waits on it), without a banner."""
    require_strong_secret()

    @app.get("/")
    async def root(_request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})


def install() -> None:
    """Replace Rasa's root route (idempotent)."""
    rasa.server.add_root_route = add_root_route
