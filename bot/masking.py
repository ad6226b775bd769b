"""The one masking rule for stored content on its way out (transcripts with their custom payloads
and entities, call notes, follow-up reasons, coaching comments, CSV rows).

Stored text holds numbers that were fine for whoever wrote them: the owner's client card, a
number typed in a note. Whoever reads it later sees each mobile number as ``bot.access`` lets
them see that client's phone: in full only for the agent who owns the client
(``access.may_see_full_phone``); masked (138****0001) for everyone else, supervisors included
(their 显示号码 is the audited way to the full number), and for numbers that belong to no client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import access
from bot.auth import Identity
from bot.db import batched
from bot.logs import mask_phones, phone_numbers
from bot.models import Client

# References, not content: a conversation id is the key of its links and is never rewritten.
IDENTIFIER_KEYS = frozenset({"id", "client_id", "conversation_id", "rehearsal_id"})


def for_reader(session: Session, identity: Identity | None, value: Any) -> Any:
    """``value`` (text, or dicts and lists of them) with every phone number shown as ``identity``
    may see it. One CRM lookup (in bounded batches) for all the numbers ``value`` holds."""
    found = {number for text, key in _texts(value) for number in _numbers(text, key)}
    keep = full_numbers_for(session, identity, found)
    return _walk(value, lambda text, key: _masked(text, key, keep))


def full_numbers_for(session: Session, identity: Identity | None, numbers: set[str]) -> set[str]:
    """The numbers among ``numbers`` that ``identity`` may read in full: their own clients'."""
    if not numbers or identity is None or identity.role != "agent":
        return set()
    shown: set[str] = set()
    for batch in batched(numbers):
        clients = session.scalars(select(Client).where(Client.phone.in_(batch))).unique()
        shown.update(c.phone for c in clients if access.may_see_full_phone(identity, c))
    return shown


def _numbers(text: str, key: str | None) -> set[str]:
    # A "phone" field holds one number in whatever form the CRM keeps it (a landline too).
    return {text} if key == "phone" else phone_numbers(text)


def _masked(text: str, key: str | None, keep: set[str]) -> str:
    if key == "phone" and text and text not in keep and "*" not in text:
        return access.mask_phone(text)
    return mask_phones(text, keep)


def _texts(value: Any, key: str | None = None) -> Iterator[tuple[str, str | None]]:
    """Each string in ``value`` that is content (not an identifier), with its dict key."""
    if isinstance(value, str):
        if key not in IDENTIFIER_KEYS:
            yield value, key
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(v, k)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v, key)


def _walk(value: Any, on_text: Callable[[str, str | None], str], key: str | None = None) -> Any:
    """A copy of ``value`` with ``on_text(text, key)`` applied to each string (``key``: the dict
    key it sits under); identifiers are kept as they are."""
    if isinstance(value, str):
        return value if key in IDENTIFIER_KEYS else on_text(value, key)
    if isinstance(value, dict):
        return {k: _walk(v, on_text, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, on_text, key) for v in value]
    return value
