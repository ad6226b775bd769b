"""Reading stored events by their type name without walking the class tree each time.

Rasa rebuilds a conversation from its stored events on every message, and finds each event's class
by listing every subclass of ``Event`` (recursively) and comparing type names: 2-3 % of the Rasa
server's busy time under load (`make bench PROFILE=1`). The classes do not change while the server
runs, so each name's class is looked up once; a name not found is looked up again next time (Rasa's
own answer, default or error, stays the same).
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import Event

_rasa_resolve = Event.resolve_by_type
_classes: dict[str, type[Event]] = {}


def resolve_by_type(type_name: str, default: Any = None) -> Any:
    found = _classes.get(type_name)
    if found is None:
        found = _rasa_resolve(type_name, default)
        if found is not None and found is not default:
            _classes[type_name] = found
    return found


def install() -> None:
    """Use the remembered lookup in this process (idempotent)."""
    Event.resolve_by_type = staticmethod(resolve_by_type)
