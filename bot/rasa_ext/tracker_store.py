"""Rasa's SQL tracker store, with two costs of every message taken out.

Per message Rasa reads the conversation's current session (every stored row, as ORM objects) and,
when it saves, counts those rows again to know which events are new. Here the read takes only the
``data`` column (all Rasa rebuilds a tracker from), and the tracker it returns carries the number of
rows read; saving that same tracker uses it instead of counting again. The read and the save of one
message happen under the conversation's lock (Rasa's lock store; Redis when several Rasa servers share
the store), so no other writer adds rows in between, as long as one message is handled within the
lock's lifetime (Rasa's TICKET_LOCK_LIFETIME, 60 s; past it Rasa's own count goes wrong too). A tracker
that did not come from a read here (a copy, Rasa's HTTP API replacing events) is counted as Rasa does.
Same table, same rows: the web app and the review read them as before. About 3 ms less of the Rasa
server's time per message (`make bench PROFILE=1`).

Installed on Rasa's class (``install``, from bot/rasa_ext/__init__.py, before the server creates its
store), so endpoints.yml keeps ``type: SQL``: a custom store type that fails to load would make Rasa
fall back to an in-memory store without stopping.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

_rasa_retrieve = SQLTrackerStore._retrieve
_rasa_additional_events = SQLTrackerStore._additional_events
ROWS_READ = "_salesbot_rows_read"  # set on a tracker read here: rows of its session in the table


async def _retrieve(self: SQLTrackerStore, sender_id: str,
                    fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
    with self.session_scope() as session:
        rows = self._event_query(session, sender_id, fetch_events_from_all_sessions) \
            .with_entities(self.SQLEvent.data).all()
    if not (self.domain and rows):
        return None
    tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows], self.domain.slots)
    if not fetch_events_from_all_sessions:
        setattr(tracker, ROWS_READ, len(rows))
    return tracker


def _additional_events(self: SQLTrackerStore, session: Any, tracker: DialogueStateTracker) -> Iterator:
    stored = tracker.__dict__.pop(ROWS_READ, None)  # once: a second save of it counts again
    if stored is None or stored > len(tracker.events):
        return _rasa_additional_events(self, session, tracker)
    return itertools.islice(tracker.events, stored, len(tracker.events))


def install() -> None:
    """Use the leaner read and save on Rasa's SQL tracker store in this process (idempotent)."""
    SQLTrackerStore._retrieve = _retrieve
    SQLTrackerStore._additional_events = _additional_events
