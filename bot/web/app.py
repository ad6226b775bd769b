"""Sanic web app (port 8000). For now a status page saying what runs where."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from sanic import Sanic, response
from sanic.request import Request

_templates = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=select_autoescape())


def create_app(rasa_url: str = "http://127.0.0.1:5005", name: str = "salesbot_web") -> Sanic:
    app = Sanic(name)
    app.config.RASA_URL = rasa_url

    @app.get("/health")
    async def health(_request: Request):
        return response.json({"status": "ok"})

    @app.get("/")
    async def index(request: Request):
        html = _templates.get_template("status.html").render(rasa_url=app.config.RASA_URL)
        return response.html(html)

    return app
