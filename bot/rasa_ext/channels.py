"""REST and socket.io channels that accept only our signed tokens.

Every message is attributed to the token's user (metadata ``login``/``role``), and
a conversation id belongs to the user who sent its first message: nobody can write
into another user's conversation. Rejected messages never reach the tracker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio import exceptions as socketio_errors

from bot import logs
from bot.access import claim_conversation
from bot.auth import CHANNEL_PURPOSES, Identity, bearer, identity_from_token, read_token
from bot.db import sessions, unreachable
from bot.inputs import check_conversation_id, check_message
from bot.playbook import playbook
from bot.settings import get_settings
from bot.transcripts import first_speaker

logger = logging.getLogger(__name__)

# Request bodies the Rasa server reads (REST messages, socket.io polling): a message is at most
# MAX_MESSAGE_CHARS characters, so 64 KB is generous; Sanic's default is 100 MB.
MAX_BODY_BYTES = 64 * 1024


# Conversations this process has seen claimed: (CRM URL, conversation id) -> the owner's login.
# An owner row is written once and never changed or deleted (bot/access.py), so a "yes" can be
# remembered: later messages of a conversation skip the CRM (two queries). Every other answer
# still comes from the CRM.
_OWNERS: OrderedDict[tuple[str, str], str] = OrderedDict()
_OWNERS_MAX = 50_000
_caches_lock = threading.Lock()


def _owns(conversation_id: str, identity: Identity) -> bool:
    key = (get_settings().db_url, conversation_id)
    with _caches_lock:
        if _OWNERS.get(key) == identity.login:
            _OWNERS.move_to_end(key)
            return True
    try:
        with sessions().begin() as session:
            owned = claim_conversation(session, conversation_id, identity, history_owner=first_speaker)
    except Exception as error:
        if unreachable(error):
            raise CrmUnavailable from error
        raise
    if owned:  # committed: the owner row for identity.login exists now
        with _caches_lock:
            _OWNERS[key] = identity.login
            _OWNERS.move_to_end(key)
            while len(_OWNERS) > _OWNERS_MAX:
                _OWNERS.popitem(last=False)
    return owned


AUTH_ERROR_EVT = "auth_error"


class CrmUnavailable(Exception):
    """The CRM database cannot be reached to check a token or a conversation's owner."""


# Tokens this process verified against the CRM lately: token -> (when, identity). While the CRM
# is unreachable, a token verified within VERIFIED_GRACE_SECONDS is still taken (signature and
# expiry are checked every time), so an agent mid-call can go on and log the outcome, which the
# action server keeps in its outbox. A revocation made meanwhile applies once the CRM answers;
# a token never verified here is refused. Bounded like the owner cache.
VERIFIED_GRACE_SECONDS = 15 * 60
_VERIFIED: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
_VERIFIED_MAX = 10_000


def _verified_identity(token: str) -> Identity | None:
    """identity_from_token, remembering a success; CrmUnavailable (or the last success within
    the grace period) when the CRM cannot be asked."""
    try:
        identity = identity_from_token(token, CHANNEL_PURPOSES)
    except Exception as error:
        if not unreachable(error):
            raise
        with _caches_lock:
            verified = _VERIFIED.get(token)
        if verified is not None and time.monotonic() - verified[0] < VERIFIED_GRACE_SECONDS:
            logger.warning("CRM unreachable: %s taken on its last verification", verified[1].login)
            return verified[1]
        raise CrmUnavailable from error
    with _caches_lock:
        if identity is None:
            _VERIFIED.pop(token, None)
        else:
            _VERIFIED[token] = (time.monotonic(), identity)
            _VERIFIED.move_to_end(token)
            while len(_VERIFIED) > _VERIFIED_MAX:
                _VERIFIED.popitem(last=False)
    return identity


async def _identity(token: Any) -> Identity | None:
    """The token's user as they are now (blocking DB read, so off the event loop).
    Raises CrmUnavailable if the CRM cannot tell."""
    # The widget's chat tokens and REST clients' API tokens (bot/auth.py); never a session cookie.
    if not isinstance(token, str) or read_token(token, CHANNEL_PURPOSES) is None:
        return None  # missing, forged or expired: no need to ask the database
    return await asyncio.to_thread(_verified_identity, token)


def _say(key: str) -> str:
    """A channel refusal, in Chinese, from the playbook's messages."""
    return playbook().messages[key]


def _cap_request_bodies(webhook: Blueprint) -> None:
    """The Rasa server reads at most MAX_BODY_BYTES of a request body (Rasa leaves Sanic's 100 MB),
    so nobody makes it read megabytes before the 401; a larger body gets 413 with the reason."""

    @webhook.listener("before_server_start")
    async def cap(app, _loop) -> None:
        app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, MAX_BODY_BYTES)

    @webhook.exception(PayloadTooLarge)
    async def too_large(_request: Request, _error: Exception) -> HTTPResponse:
        return response.json({"error": _say("request_too_large").format(limit=MAX_BODY_BYTES // 1024)},
                             status=413)


def _metadata(identity: Identity, request_id: str) -> dict[str, Any]:
    # request_id follows the message to the action server's logs (bot/logs.py); ver is the token
    # version the message was accepted under, checked again when a deferred write is replayed.
    return {"login": identity.login, "role": identity.role, "name": identity.name, "ver": identity.token_version,
            "request_id": request_id}


class TokenRestInput(RestInput):
    """``POST /webhooks/rest/webhook`` with ``Authorization: Bearer <token>``."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        logs.setup("rasa")  # the Rasa server's logs: built with its channels, once
        webhook = Blueprint("token_rest_webhook", __name__)
        _cap_request_bodies(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            request_id = logs.new_request_id(request.headers.get("X-Request-ID"))
            try:
                reply = await _receive(request, request_id)
            except CrmUnavailable:
                logger.warning("CRM unreachable: message refused before it reached the bot")
                reply = response.json({"error": _say("crm_unavailable_channel")}, status=503,
                                      headers={"Retry-After": "60"})
            reply.headers["X-Request-ID"] = request_id
            return reply

        async def _receive(request: Request, request_id: str) -> HTTPResponse:
            # Signature, expiry, and (in the database) that the user is active and has not revoked it.
            identity = await _identity(bearer(request.headers.get("Authorization")))
            if identity is None:
                return response.json({"error": _say("message_no_token")}, status=401)
            try:
                body = request.json
            except Exception:  # noqa: BLE001 - sanic raises on malformed JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": _say("message_not_json")}, status=400)
            sender, text = body.get("sender"), body.get("message")
            problem = check_message(sender, text)
            if problem:
                return response.json({"error": problem}, status=400)
            if not await asyncio.to_thread(_owns, sender, identity):
                return response.json({"error": _say("conversation_of_another_user")}, status=403)
            logger.info("message from %s in conversation %s (%d chars)", identity.login, sender, len(text))
            collector = CollectingOutputChannel()
            await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                             metadata=_metadata(identity, request_id)))
            return response.json(collector.messages)

        return webhook


class OneEventSocketIOOutput(SocketIOOutput):
    """socket.io output that sends a reply with a card (custom payload) as ONE event.

    Rasa's ``send_response`` splits such a reply into an event per text paragraph (the buttons on
    the last) and one for the payload, which the widget would have to stitch back together. Here
    it is one ``bot_uttered`` event ``{"text", "quick_replies", "custom"}`` (keys present only when
    set; ``quick_replies`` shaped as Rasa's). Replies without a card keep Rasa's events and shapes.
    """

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if not message.get("custom"):
            await super().send_response(recipient_id, message)
            return
        rest = dict(message)
        text, custom = rest.pop("text", None), rest.pop("custom")
        quick_replies, buttons = rest.pop("quick_replies", None), rest.pop("buttons", None)
        buttons = quick_replies or buttons  # what Rasa does: quick replies first
        event: dict[str, Any] = {}
        if text and text.strip():
            event["text"] = text.strip()
        if buttons:
            event["quick_replies"] = [{"content_type": "text", "title": b["title"], "payload": b["payload"]}
                                      for b in buttons]
        event["custom"] = custom
        await self._send_message(recipient_id, event)
        # Anything else (image, attachment, elements: we send none) goes out as Rasa sends it.
        await super().send_response(recipient_id, rest)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        # Rasa's passes the JSON as emit() keyword arguments, which python-socketio rejects.
        await self._send_message(recipient_id, {"custom": json_message})


class TokenSocketIOInput(SocketIOInput):
    """socket.io for the widget: connect with ``auth={"token": ...}``; sessions bound to the user."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def get_output_channel(self) -> OneEventSocketIOOutput | None:
        return OneEventSocketIOOutput(self.sio, self.bot_message_evt) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # CORS is handled by Rasa (--cors); a second header from socket.io makes browsers reject replies.
        logs.setup("rasa")
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        webhook = SocketBlueprint(sio, self.socketio_path, "token_socketio_webhook", __name__)
        _cap_request_bodies(webhook)
        self.sio = sio
        identities: dict[str, Identity] = {}
        tokens: dict[str, str] = {}
        sessions_of: dict[str, str] = {}

        async def still_valid(sid: str) -> Identity | None:
            """Re-check the connection's token (revoked, expired, user disabled?) before acting on it.

            On failure the client gets ``auth_error`` (it fetches a new token and reconnects)
            and is disconnected; nothing reaches the tracker.
            """
            try:
                identity = await _identity(tokens.get(sid))
            except CrmUnavailable:  # not the token's fault: say so, stay connected
                await sio.emit(self.bot_message_evt, {"text": _say("crm_unavailable_channel")}, room=sid,
                               namespace=self.namespace)
                return None
            if identity is None:
                await sio.emit(AUTH_ERROR_EVT, {"error": _say("token_expired")}, room=sid, namespace=self.namespace)
                await sio.disconnect(sid, namespace=self.namespace)
                return None
            identities[sid] = identity
            return identity

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, _environ: dict, auth: dict | None) -> bool:
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                identity = await _identity(token)
            except CrmUnavailable as error:
                raise socketio_errors.ConnectionRefusedError(_say("crm_unavailable_channel")) from error
            if identity is None:
                return False  # the client sees a connect_error
            identities[sid], tokens[sid] = identity, token
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            identities.pop(sid, None)
            tokens.pop(sid, None)
            sessions_of.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: dict | None) -> None:
            if sid not in identities:
                return
            identity = await still_valid(sid)
            if identity is None:
                return
            session_id = (data.get("session_id") if isinstance(data, dict) else None) or uuid.uuid4().hex
            problem = check_conversation_id(session_id)
            if problem:
                await sio.emit("session_error", {"error": problem}, room=sid, namespace=self.namespace)
                return
            try:
                owned = await asyncio.to_thread(_owns, session_id, identity)
            except CrmUnavailable:
                await sio.emit("session_error", {"error": _say("crm_unavailable_channel")}, room=sid,
                               namespace=self.namespace)
                return
            if not owned:
                await sio.emit("session_error", {"error": _say("conversation_of_another_user")}, room=sid,
                               namespace=self.namespace)
                return
            sessions_of[sid] = session_id
            await sio.enter_room(sid, session_id, namespace=self.namespace)  # a coroutine in python-socketio 5.x
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: dict) -> None:
            session_id = sessions_of.get(sid)
            if sid not in identities or session_id is None:
                return
            identity = await still_valid(sid)  # every message: a revoked or expired token stops here
            if identity is None:
                return
            text = data.get("message") if isinstance(data, dict) else None
            problem = check_message(session_id, text)
            if problem:
                await sio.emit(self.bot_message_evt, {"text": problem}, room=sid, namespace=self.namespace)
                return
            output = OneEventSocketIOOutput(sio, self.bot_message_evt)
            request_id = logs.new_request_id()
            logger.info("message from %s in conversation %s (%d chars)", identity.login, session_id, len(text))
            await on_new_message(UserMessage(text, output, session_id, input_channel=self.name(),
                                             metadata=_metadata(identity, request_id)))

        return webhook
