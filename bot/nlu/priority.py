"""Rasa component: compliance first. A customer's "don't call me again" must win over every
other reading of the same line (我在开会，你们别再打了 is a do-not-call request, not a busy one).

Missing such a request is a compliance failure; reading one where there is none only shows the
agent a confirmation button. So the decision is cost-weighted: when the classifier gives a
priority intent at least ``min_confidence``, it becomes the prediction, and the ranking keeps the
classifier's other scores for transparency.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class PriorityIntents(GraphComponent):
    """Promote a priority intent (default: objection_do_not_call) above its confidence floor."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intents": {"objection_do_not_call": 0.25}}

    def __init__(self, config: dict[str, Any]) -> None:
        self.floors = {str(k): float(v) for k, v in (config.get("intents") or {}).items()}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> PriorityIntents:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            promote(message, self.floors)
        return messages


def promote(message: Message, floors: dict[str, float]) -> None:
    """Make the first priority intent over its floor the message's intent."""
    ranking = message.get(INTENT_RANKING_KEY) or []
    current = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
    for name, floor in floors.items():
        entry = next((r for r in ranking if r.get(INTENT_NAME_KEY) == name), None)
        if entry is None or current == name:
            continue
        if entry.get(PREDICTED_CONFIDENCE_KEY, 0.0) >= floor:
            message.set(INTENT, {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: entry[PREDICTED_CONFIDENCE_KEY]},
                        add_to_output=True)
            message.set(INTENT_RANKING_KEY, [entry] + [r for r in ranking if r is not entry], add_to_output=True)
            return
