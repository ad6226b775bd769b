"""Rasa's SQL tracker store, with the costs of every message taken out.

Per message Rasa reads the conversation's current session (every stored row, as ORM objects) and,
when it saves, counts those rows again to know which events are new, then writes the new rows one by
one. Here the read takes only the ``id`` and ``data`` columns (all Rasa rebuilds a tracker from), and the
tracker it returns carries the number of rows read; saving that same tracker uses it instead of counting
again, and writes the new rows in one statement. The read and the save of one message happen under the
conversation's lock (Rasa's lock store; Redis when several Rasa servers share the store), so no other
writer adds rows in between, as long as one message is handled within the lock's lifetime (Rasa's
TICKET_LOCK_LIFETIME, 60 s; past it Rasa's own count goes wrong too). A tracker that did not come from a
read here (a copy, Rasa's HTTP API replacing events) is counted as Rasa does. Same table, same rows: the
web app and the review read them as before.

The server also keeps the trackers of its most recent conversations (KEEP of them) as it saved them: a
message in a conversation it saved last reads only the newest row id of that conversation (one indexed
query) instead of every row of the session and rebuilding the tracker from them (about 4 ms of the server's
time per message, growing with the call's length). A tracker saved with a new session is kept as the table
gives it (that session's events only). Another server writing to the conversation (its newest row id
moves), a tracker changed and not saved (its event count moves), another domain, or an event broker (which
diffs against a fresh read) each mean the whole read, as before. A conversation with no rows yet is
neither read nor counted: the read finds no newest row, and the save that follows knows it starts at none.

Installed on Rasa's class (``install``, from bot/rasa_ext/__init__.py, before the server creates its
store), so endpoints.yml keeps ``type: SQL``: a custom store type that fails to load would make Rasa
fall back to an in-memory store without stopping.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

_rasa_retrieve = SQLTrackerStore._retrieve
_rasa_additional_events = SQLTrackerStore._additional_events
_rasa_save = SQLTrackerStore.save
ROWS_READ = "_salesbot_rows_read"  # set on a tracker read here: rows of its session in the table
KEEP = 128  # conversations whose tracker a server keeps (a team's calls in progress, with room to spare)


@dataclass
class _Kept:
    tracker: DialogueStateTracker | None  # None: the conversation had no rows when last read
    newest: int | None  # id of the conversation's newest row when it was kept
    events: int  # len(tracker.events) then: a tracker changed since and not saved is not used
    rows: int  # rows of its session in the table
    domain: int = 0  # id() of the store's domain then: a tracker holds that domain's slots


def _kept(store: SQLTrackerStore) -> OrderedDict[str, _Kept]:
    return store.__dict__.setdefault("_salesbot_kept", OrderedDict())


def _keep(store: SQLTrackerStore, sender_id: str, entry: _Kept | None) -> None:
    kept = _kept(store)
    if entry is None or store.event_broker is not None:
        kept.pop(sender_id, None)
        return
    entry.domain = id(store.domain)
    kept[sender_id] = entry
    kept.move_to_end(sender_id)
    while len(kept) > KEEP:
        kept.popitem(last=False)


def _newest_row(store: SQLTrackerStore, session: Any, sender_id: str) -> int | None:
    return session.query(sa.func.max(store.SQLEvent.id)).filter(store.SQLEvent.sender_id == sender_id).scalar()


async def _retrieve(self: SQLTrackerStore, sender_id: str,
                    fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
    with self.session_scope() as session:
        if fetch_events_from_all_sessions:
            newest = -1  # always read
        else:
            kept = _kept(self).pop(sender_id, None)
            newest = _newest_row(self, session, sender_id)
            if newest is None:  # a new conversation: nothing to read
                _keep(self, sender_id, _Kept(None, None, 0, 0))
                return None
            if kept is not None and kept.tracker is not None and len(kept.tracker.events) == kept.events \
                    and newest == kept.newest and kept.domain == id(self.domain):
                setattr(kept.tracker, ROWS_READ, kept.rows)
                _keep(self, sender_id, kept)
                return kept.tracker
        rows = self._event_query(session, sender_id, fetch_events_from_all_sessions) \
            .with_entities(self.SQLEvent.id, self.SQLEvent.data).all()
    if not (self.domain and rows):
        return None
    tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows], self.domain.slots)
    if not fetch_events_from_all_sessions:
        setattr(tracker, ROWS_READ, len(rows))
        _keep(self, sender_id, _Kept(tracker, max(row.id for row in rows), len(tracker.events), len(rows)))
    return tracker


async def _save(self: SQLTrackerStore, tracker: DialogueStateTracker) -> None:
    """Rasa's save (the same rows, written in one statement), keeping the tracker saved and the id of its
    newest row."""
    await self.stream_events(tracker)
    sender_id = tracker.sender_id
    kept = _kept(self).pop(sender_id, None)
    if ROWS_READ not in tracker.__dict__ and kept is not None and kept.tracker is None:
        # Rasa creates a new conversation's tracker after a read found no rows (under its lock).
        tracker.__dict__[ROWS_READ] = 0
    stored = tracker.__dict__.get(ROWS_READ)
    if stored is not None and stored > len(tracker.events):
        stored = None  # counted again by Rasa (_additional_events): the rows after saving are not known here
    if stored is not None and stored == len(tracker.events):
        tracker.__dict__.pop(ROWS_READ, None)
        _keep(self, sender_id, kept if kept is not None and kept.tracker is None else None)
        return  # nothing new (Rasa saves the empty tracker it creates for a new conversation)
    with self.session_scope() as session:
        events = list(self._additional_events(session, tracker))
        rows = []
        for event in events:
            data = event.as_dict()
            rows.append({"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                         "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                         "action_name": data.get("name"), "data": json.dumps(data)})
        if rows:
            session.execute(self.SQLEvent.__table__.insert(), rows)
        newest = _newest_row(self, session, sender_id)
        session.commit()
    if stored is None or newest is None:
        _keep(self, sender_id, None)
        return
    starts = [i for i, event in enumerate(tracker.events) if isinstance(event, SessionStarted)]
    if starts and any(isinstance(e, SessionStarted) for e in events):
        # A new session: a read from the table holds that session's events only (from its SessionStarted,
        # by timestamp), this tracker holds them all; keep what the read would give.
        since = tracker.events[starts[-1]].timestamp
        current = [e.as_dict() for e in tracker.events if e.timestamp >= since]
        tracker = DialogueStateTracker.from_dict(sender_id, current, self.domain.slots)
        _keep(self, sender_id, _Kept(tracker, newest, len(tracker.events), len(current)))
        return
    _keep(self, sender_id, _Kept(tracker, newest, len(tracker.events), stored + len(events)))


def _additional_events(self: SQLTrackerStore, session: Any, tracker: DialogueStateTracker) -> Iterator:
    stored = tracker.__dict__.pop(ROWS_READ, None)  # once: a second save of it counts again
    if stored is None or stored > len(tracker.events):
        return _rasa_additional_events(self, session, tracker)
    return itertools.islice(tracker.events, stored, len(tracker.events))


def install() -> None:
    """Use the leaner read and save on Rasa's SQL tracker store in this process (idempotent)."""
    SQLTrackerStore._retrieve = _retrieve
    SQLTrackerStore._additional_events = _additional_events
    SQLTrackerStore.save = _save
