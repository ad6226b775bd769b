"""The action server (port 5055): rasa_sdk's app, on loopback by default, answering only Rasa.

Rasa signs each request (bot/signing.py, bot/rasa_ext/remote_action.py): any request without a
valid, fresh signature it has not seen before gets 401 before an action runs, so a forged or
replayed tracker posted to /webhook can neither read nor change the CRM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging

from rasa_sdk.endpoint import create_app as sdk_app
from sanic import response
from sanic.exceptions import PayloadTooLarge, SanicException

from bot import logs, outbox, text, timeparse
from bot.playbook import playbook
from bot.rehearsal import reading
from bot.rehearsal.rubric import rubric
from bot.rehearsal.scenarios import load_scenarios
from bot.settings import actions_host, get_settings, require_strong_secret
from bot.signing import ReplayGuard, signing_key

DEFAULT_HOST = "127.0.0.1"
# The largest action call read: Rasa sends the conversation's tracker (every event of the
# session: a long day of calls is a few MB; see tests/test_limits.py). Sanic's default is 100 MB.
MAX_BODY_BYTES = 16 * 1024 * 1024
# How often writes kept while the CRM was down are retried when no message triggers it.
REPLAY_SECONDS = 10.0
logger = logging.getLogger(__name__)


def create_app(actions_package: str = "actions"):
    key = signing_key(get_settings().secret)
    guard = ReplayGuard()  # one worker process: the signatures it has accepted lately
    # No CORS: browsers have no business calling the action server.
    app = sdk_app(actions_package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES

    # rasa_sdk answers every exception with a 500 (its catch-all handler, the more general one):
    # Sanic's own refusals (404, 405, 400 ...) keep their status, a too large body says why.
    @app.exception(SanicException)
    async def refused(request, error):
        if isinstance(error, PayloadTooLarge):
            return response.json({"error": f"请求内容太大（最多 {MAX_BODY_BYTES // (1024 * 1024)} MB），没有处理。"},
                                 status=413, dumps=lambda body: json.dumps(body, ensure_ascii=False))
        return app.error_handler.default(request, error)

    @app.middleware("request")
    async def require_rasa(request):
        if request.path == "/health":
            return None
        refusal = guard.check(request.headers.get, request.body or b"", key)
        if refusal is not None:
            logs.new_request_id()
            logger.warning("refused %s %s from %s: %s request", request.method, request.path, request.ip, refusal)
            return response.json({"error": "未授权：动作服务器只接受对话服务器的请求。"}, status=401,
                                 dumps=lambda body: json.dumps(body, ensure_ascii=False))
        body = _json(request)
        logs.new_request_id(_message_request_id(body))
        if isinstance(body, dict):
            logger.info("run %s for conversation %s", body.get("next_action"), body.get("sender_id"))
        return None

    @app.listener("after_server_start")
    async def start_replaying(app, _loop):
        app.ctx.replayer = asyncio.get_running_loop().create_task(_replay_forever())

    @app.listener("before_server_stop")
    async def stop_replaying(app, _loop):
        replayer = getattr(app.ctx, "replayer", None)
        if replayer is not None:
            replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replayer

    return app


def _json(request) -> object:
    try:
        return request.json
    except Exception:  # noqa: BLE001 - malformed JSON: rasa_sdk answers it with its own 400
        return None


def _message_request_id(body: object) -> str | None:
    """The request id our channel put in the latest user message's metadata (bot/logs.py)."""
    try:
        events = body["tracker"]["events"]  # type: ignore[index]
    except Exception:  # noqa: BLE001 - not an action call: a fresh id then
        return None
    for event in reversed(events or []):
        if isinstance(event, dict) and event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata.get("request_id") if isinstance(metadata, dict) else None
    return None


def warm_up() -> None:
    """Load what the first actions would otherwise load on the event loop (the playbook, OpenCC,
    jionlp's time tables, the rehearsal's trainee-move and compliance models, trained in-process:
    seconds), before the server answers /health, so the first calls of a fresh action server do not
    stall or time out."""
    playbook()
    text.normalize("預約回訪")
    timeparse.warm_up()
    load_scenarios()
    rubric()
    reading.read("您好，我是星海银行的客户经理，想跟您介绍一下大额存单，您方便吗？", None)


async def _replay_forever() -> None:
    """Write what was kept in the outbox while the CRM was down, also when no agent is typing
    (the actions package, loaded by ``create_app``, gives the outbox its replayer)."""
    while True:
        await asyncio.sleep(REPLAY_SECONDS)
        try:
            await asyncio.to_thread(outbox.replay_deferred)
        except Exception:  # noqa: BLE001 - keep retrying; the next round may succeed
            logger.exception("replaying the outbox failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.action_server")
    parser.add_argument("--port", type=int, default=5055)
    # A multi-host deployment sets SALESBOT_ACTIONS_HOST (e.g. 0.0.0.0) behind its firewall.
    parser.add_argument("--host", default=actions_host(DEFAULT_HOST))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs.setup("actions")
    require_strong_secret()
    warm_up()
    create_app().run(args.host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
