"""Structured, rotated logs for each service, with phone numbers masked and no secrets.

Each service (``rasa``, ``actions``, ``web``) writes JSON lines to ``var/log/<service>.log``
(rotated at 10 MB, five files kept), beside its usual console output. Every record carries the
request id of the chat message being handled: the channel makes one per message (or takes a
proxy's ``X-Request-ID``), passes it to the action server in the message's metadata, and both
set it here, so one grep follows a message through both servers.

Masking happens on the rendered line, so nothing a library logs can slip past it: mobile
numbers keep their first three and last four digits (what the CRM shows to non-owners), bearer
tokens, signed tokens and secrets are replaced.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import time
import uuid
from collections.abc import Collection
from contextvars import ContextVar

from bot.settings import var_dir

request_id: ContextVar[str | None] = ContextVar("salesbot_request_id", default=None)

MAX_BYTES, BACKUPS = 10 * 1024 * 1024, 5
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A mobile number as agents type it: 13800000001, +86 138 0000 0001, 86-138-0000-0001. The one
# phone pattern of the codebase: logs here, every surface that shows stored text (bot/masking.py).
PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋", "0123456789+")
_SECRETS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    # Our signed tokens and session cookies (payload.signature, base64url) and JWTs.
    (re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}(\.[A-Za-z0-9_-]{8,})?"), "***token***"),
    (re.compile(r"(?i)((?:secret|password|passwd|token|x-salesbot-action-secret)[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s\"',;&]+"), r"\1***"),
    (re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
]


def phone_numbers(text: str) -> set[str]:
    """The mobile numbers written in ``text``, as 11 digits (full-width digits read as digits)."""
    return {"".join(m.groups()) for m in PHONE.finditer(text.translate(_FULLWIDTH_DIGITS))}


def mask_phones(text: str, keep: Collection[str] = ()) -> str:
    """``text`` with each mobile number written as 138****0001, except those whose 11 digits are in
    ``keep``; the rest of the text is left as written."""
    # The translation maps one character to one, so the matches' positions hold in ``text``.
    parts, end = [], 0
    for match in PHONE.finditer(text.translate(_FULLWIDTH_DIGITS)):
        if "".join(match.groups()) not in keep:
            parts += [text[end:match.start()], f"{match.group(1)}****{match.group(3)}"]
            end = match.end()
    return "".join(parts) + text[end:]


def mask(text: str) -> str:
    """``text`` with mobile numbers masked and secrets removed (full-width digits read as digits)."""
    text = mask_phones(text.translate(_FULLWIDTH_DIGITS))
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def new_request_id(offered: str | None = None) -> str:
    """A proxy's id if it is a plain token, else a fresh one; set for this task and returned."""
    value = offered if offered and _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex[:16]
    request_id.set(value)
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "request_id": request_id.get(),
            "msg": mask(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class MaskingFilter(logging.Filter):
    """For the console: the same masking as the files."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            # The traceback is rendered here, masked, and cached where formatters look for it.
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def setup(service: str, level: int = logging.INFO) -> logging.Handler:
    """Send this process's logs to ``var/log/<service>.log`` as JSON lines (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_salesbot_service", None) == service:
            return handler
    folder = var_dir() / "log"
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(folder / f"{service}.log", maxBytes=MAX_BYTES,
                                                   backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(JsonFormatter(service))
    handler.setLevel(level)
    handler._salesbot_service = service  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    for other in root.handlers:
        if other is not handler and not any(isinstance(f, MaskingFilter) for f in other.filters):
            other.addFilter(MaskingFilter())
    return handler
