"""Drive custom actions like Rasa does: a Tracker built from slots and events, a CollectingDispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import clock


@dataclass
class Conversation:
    """One conversation's slots, carried from action to action as Rasa would."""

    sender_id: str = "call-test-1"
    login: str | None = "agent01"
    slots: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    token_version: int | None = 0  # the ``ver`` of the token the channel verified (bot/rasa_ext/channels.py)

    async def run(self, action, text: str, intent: str, **entities: str) -> list[dict[str, Any]]:
        """Run ``action`` for a user message; returns the messages sent to the user."""
        metadata = {"login": self.login} if self.login else {}
        if self.login and self.token_version is not None:
            metadata["ver"] = self.token_version
        self.events.append({"event": "user", "text": text, "timestamp": clock.timestamp(), "metadata": metadata})
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "intent_ranking": [{"name": intent, "confidence": 0.99}],
            "entities": [{"entity": k, "value": v} for k, v in entities.items()],
        }
        tracker = Tracker(self.sender_id, dict(self.slots), latest, list(self.events), False, None, {},
                          "action_listen")
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, tracker, {})
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        return dispatcher.messages


def texts(messages: list[dict[str, Any]]) -> str:
    """All readable output, with response names and their variables for template replies."""
    parts = []
    for message in messages:
        parts.append(message.get("text") or "")
        if message.get("response"):
            parts.append(message["response"])
            parts += [str(v) for k, v in message.items()
                      if k not in ("response", "template", "text", "buttons", "custom") and v]
    return "\n".join(p for p in parts if p)
