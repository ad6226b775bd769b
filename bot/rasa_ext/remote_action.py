"""Custom actions that fail say so: the agent learns the CRM is unavailable, not just silence.

Rasa's ``RemoteAction.run`` raises when the action server cannot be reached (down, timing out,
answering 5xx); the processor logs it and carries on with no events, so the REST channel
returns ``[]`` and the widget waits for its 30-second timeout. An agent cannot tell that an
outcome was not saved. Rasa has no hook for this, so the Rasa process wraps ``RemoteAction.run``
once (``install``, called when our channels load): on such a failure the action's result is
one bot message telling the agent that nothing was done and what to do now.

A 400 (``ActionExecutionRejection``) keeps Rasa's own handling: it is a rejection, not an outage.

The same install signs every request to the action server (``SigningEndpoint``, bot/signing.py):
each one carries a fresh HMAC over its timestamp and the exact body bytes, which the action
server takes once, within a minute; no static secret ever travels.

It also checks the action server's replies with validators built once, each event against its own
kind's schema: Rasa's ``jsonschema.validate`` rebuilds the validator for every reply (about 15 ms, a
third of the Rasa server's time per message under load, measured with py-spy by `make bench
PROFILE=1`) and tries every event against all 23 event schemas (4 ms a message after that), and sends
every request over kept-alive connections: Rasa opens a new HTTP session (and connection) for each.

A conversation's very first session start stays in this process: with no slot set but the message's
metadata (which Rasa's processor puts in ``session_started_metadata`` just before, and which the custom
``action_session_start`` in actions/session.py does not carry over) there is nothing to carry, and its
reply would be the session's start and listen; the round trip was a quarter of a first message's time.
A later session start (a call going on after a pause) still asks the action server what it keeps.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import zlib
from typing import Any

import aiohttp
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, SESSION_START_METADATA_SLOT
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

from bot import signing
from bot.playbook import playbook
from bot.settings import get_settings

logger = logging.getLogger(__name__)

UNAVAILABLE_TYPE = "service_unavailable"


def unavailable_message(action_name: str) -> BotUttered:
    """What the agent reads when ``action_name`` could not run (text from the playbook)."""
    text = playbook().messages["actions_unavailable"]
    return BotUttered(text=text, data={"custom": {"type": UNAVAILABLE_TYPE, "service": "actions",
                                                  "action": action_name}})


@functools.lru_cache(maxsize=1)
def _response_validator():
    spec = RemoteAction.action_response_format_spec()
    validator = validator_for(spec)
    validator.check_schema(spec)
    return validator(spec)


@functools.lru_cache(maxsize=1)
def _validators_by_event() -> tuple[Any, dict[str, Any]]:
    """Rasa's reply schema split where it is costly: each event is checked against ``oneOf`` all 23
    event schemas. Every one of them fixes ``event`` to its own name, so an event passes ``oneOf``
    exactly when it passes the one schema its name picks (with the common part)."""
    spec = RemoteAction.action_response_format_spec()
    event = spec["properties"]["events"]["items"]
    common = {key: value for key, value in event.items() if key != "oneOf"}
    validator = validator_for(spec)
    by_name = {kind["properties"]["event"]["const"]: validator({"allOf": [common, kind]}) for kind in event["oneOf"]}
    outer = validator({**spec, "properties": {**spec["properties"], "events": {"type": "array"}}})
    return outer, by_name


def valid_reply(result: Any) -> bool:
    """True when ``result`` passes Rasa's reply schema, checked event by event against its own kind."""
    outer, by_name = _validators_by_event()
    if not outer.is_valid(result):
        return False
    for event in result.get("events") or []:
        name = event.get("event") if isinstance(event, dict) else None
        check = by_name.get(name) if isinstance(name, str) else None
        if check is None or not check.is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server reply (the same verdicts and errors; the message without
    Rasa's link to its docs): a valid reply is passed event by event (a tenth of the time), an
    invalid one gets Rasa's whole check."""
    if valid_reply(result):
        return True
    error = best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          "from the Action endpoint is valid.")
        raise error
    return True


# Idle kept connections are dropped after this many seconds: before the action server's Sanic closes
# them (KEEP_ALIVE_TIMEOUT, 5 s), so a request never goes out on a connection being closed under it.
KEEP_ALIVE_SECONDS = 2.0


class _Kept:
    """``async with`` over a session that outlives the block (Rasa's ``request`` closes its own)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        return None



class SigningEndpoint(EndpointConfig):
    """The action endpoint of endpoints.yml, signing each request it sends (bot/signing.py).

    Rasa hands the JSON to aiohttp; here it is serialised (and deflated, if Rasa was asked to
    compress) first, so the signature covers exactly the bytes on the wire.
    """

    @classmethod
    def of(cls, endpoint: EndpointConfig) -> SigningEndpoint:
        """The signing twin of ``endpoint``, one per endpoint: Rasa builds a RemoteAction for every action
        run, always with the agent's one endpoint, so its key is derived once, not per action."""
        if isinstance(endpoint, cls):
            return endpoint
        signed = getattr(endpoint, "_salesbot_signing", None)
        if signed is None:
            signed = cls(endpoint.url, endpoint.params, endpoint.headers, endpoint.basic_auth, endpoint.token,
                         endpoint.token_name, endpoint.cafile, **endpoint.kwargs)
            signed.type = endpoint.type
            endpoint._salesbot_signing = signed
        return signed

    @functools.cached_property
    def signing_key(self) -> bytes:
        """Derived once per endpoint: get_settings() may read the secret file, not a thing to do on
        every action call."""
        return signing.signing_key(get_settings().secret)

    def session(self) -> _Kept:
        """Rasa's session settings (headers, basic auth, time limit) in one kept-alive session, made
        again only in another event loop or once closed."""
        loop = asyncio.get_running_loop()
        kept = self.__dict__.get("_kept")
        if kept is None or kept[0] is not loop or kept[1].closed:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) \
                if self.basic_auth else None
            session = aiohttp.ClientSession(headers=self.headers, auth=auth,
                                            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                                            connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE_SECONDS))
            self._kept = kept = (loop, session)
        return _Kept(kept[1])

    async def request(self, method: str = "post", subpath: str | None = None,
                      content_type: str | None = "application/json", compress: bool = False, **kwargs: Any) -> Any:
        payload = kwargs.pop("json", None)
        body = json.dumps(payload).encode("utf-8") if payload is not None else kwargs.pop("data", None) or b""
        headers = dict(kwargs.pop("headers", None) or {})
        if compress:  # what aiohttp would do, done before signing (rasa_sdk inflates "deflate")
            body = zlib.compress(body)
            headers["Content-Encoding"] = "deflate"
        headers.update(signing.sign(body, self.signing_key))
        return await super().request(method, subpath, content_type, compress=False, data=body, headers=headers,
                                     **kwargs)


def install() -> None:
    """Sign requests to the action server, wrap ``RemoteAction.run`` and speed up its reply check
    (idempotent)."""
    if getattr(RemoteAction.run, "_salesbot_resilient", False):
        return
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    original_init = RemoteAction.__init__

    @functools.wraps(original_init)
    def __init__(self: RemoteAction, name: str, action_endpoint: EndpointConfig | None) -> None:
        original_init(self, name, SigningEndpoint.of(action_endpoint) if action_endpoint else None)

    RemoteAction.__init__ = __init__  # type: ignore[method-assign]
    original = RemoteAction.run

    @functools.wraps(original)
    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> list:
        tracker = args[2] if len(args) > 2 else kwargs.get("tracker")
        if self.name() == ACTION_SESSION_START_NAME and tracker is not None and not any(
                isinstance(event, SlotSet) and event.key != SESSION_START_METADATA_SLOT
                for event in tracker.applied_events()):
            return [SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]
        try:
            return await original(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception:  # noqa: BLE001 - any failure to reach the action server
            logger.exception("custom action %s failed: the action server is unreachable or broken",
                             self.name())
            return [unavailable_message(self.name())]

    run._salesbot_resilient = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]
