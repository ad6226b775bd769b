"""Rasa component: tags call outcomes (成交, 有意向, 没人接 ...) from the outcome phrase list.

The outcome phrases are a closed list (the ``outcome`` synonyms in data/nlu/entities.yml and the
disposition labels, read by ``bot.outcomes``): looking them up is exact for every phrase on the
list, negation included (没成交 is no deal), and costs the classifier nothing to learn. The
classifier's own ``outcome`` tags are kept for messages with no listed phrase (dialect, typos).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.outcomes import find_outcome

ENTITY = "outcome"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class OutcomeEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Tags ``outcome`` with its disposition code where a listed outcome phrase is said."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> OutcomeEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            found = find_outcome(text) if text and not text.startswith("/") else None
            if found is None:
                continue
            start, end, code = found
            entity = {"entity": ENTITY, "value": code, "start": start, "end": end, "confidence_entity": 1.0}
            # The list is authoritative where it speaks: the classifier's outcome tags go.
            kept = [e for e in message.get(ENTITIES, []) if e.get("entity") != ENTITY]
            message.set(ENTITIES, kept + self.add_extractor_name([entity]), add_to_output=True)
        return messages
