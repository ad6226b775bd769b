"""Rasa component: who speaks decides what a line can mean.

The agent types two kinds of lines: their own commands (查一下张三, 好的, 算了) and the customer's words
relayed with a prefix (客户说算了, 伊讲勿要, client says ok). A relayed line is never one of the agent's own
commands: the customer's 算了 is a refusal, not the agent cancelling what the assistant offered. The
classifier sees the prefix as a feature, but a feature only weighs; this gate decides. On a relayed
line, an agent-only reading either becomes the customer's version of it (``relayed_as``: 好的 -> the
customer agrees, 算了 -> not interested) or is dropped, its confidence with it: what is left may be too
low to answer, and the assistant then asks instead of guessing (FallbackClassifier runs after this).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.phone_features import is_relayed


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SpeakerGate(GraphComponent):
    """On relayed lines, map or drop the agent's own commands (config: ``agent_only``, ``relayed_as``)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"agent_only": [], "relayed_as": {}}

    def __init__(self, config: dict[str, Any]) -> None:
        self.agent_only = frozenset(config.get("agent_only") or ())
        self.relayed_as = {str(k): str(v) for k, v in (config.get("relayed_as") or {}).items()}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SpeakerGate:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if is_relayed(message.get(TEXT) or ""):
                self.gate(message)
        return messages

    def gate(self, message: Message) -> None:
        ranking = message.get(INTENT_RANKING_KEY) or []
        if not any(r.get(INTENT_NAME_KEY) in self.agent_only for r in ranking):
            return
        scores: dict[str, float] = {}
        for entry in ranking:
            name, confidence = entry.get(INTENT_NAME_KEY), float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
            if name in self.agent_only:
                name = self.relayed_as.get(name)
                if name is None:
                    continue
            scores[name] = scores.get(name, 0.0) + confidence
        gated = [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: c}
                 for n, c in sorted(scores.items(), key=lambda kv: -kv[1])]
        top = gated[0] if gated else {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}
        message.set(INTENT, dict(top), add_to_output=True)
        message.set(INTENT_RANKING_KEY, gated, add_to_output=True)
