"""A tracker's past states computed once per turn for all the policies.

Every prediction asks the tracker for its past states several times (the memoization policy once, the
rule policy for the text and again for the intent), and each time Rasa replays the whole session's
events through the domain: about 3 ms a message under load (`make bench PROFILE=1`), growing with the
call's length. The answer depends only on the events and the arguments, so a tracker keeps its answers
(one per set of arguments) while its events are unchanged; each caller gets its own copy of the states
(the featurizers edit the last one). Rasa's training trackers (``TrackerWithCachedStates``) keep their own cache and
are left alone.
"""

from __future__ import annotations

import json
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

_rasa_past_states = DialogueStateTracker.past_states
KEPT = "_salesbot_past_states"


def _copy(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A state is {part: {key: str or tuple}}: copying two levels makes it the caller's own.
    return [{part: dict(sub) for part, sub in state.items()} for state in states]


def past_states(self: DialogueStateTracker, domain: Domain, omit_unset_slots: bool = False,
                ignore_rule_only_turns: bool = False, rule_only_data: dict[str, Any] | None = None) -> list:
    if type(self) is not DialogueStateTracker:
        return _rasa_past_states(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    now = (id(domain), len(self.events), id(self.events[-1]) if self.events else None)
    asked = (omit_unset_slots, ignore_rule_only_turns, json.dumps(rule_only_data, sort_keys=True, default=str))
    kept = self.__dict__.get(KEPT)
    if kept is None or kept[0] != now:
        kept = (now, {})  # the events changed: every earlier answer is stale
        self.__dict__[KEPT] = kept
    if asked not in kept[1]:
        kept[1][asked] = _rasa_past_states(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    return _copy(kept[1][asked])


def install() -> None:
    """Keep each tracker's last past states in this process (idempotent)."""
    DialogueStateTracker.past_states = past_states
