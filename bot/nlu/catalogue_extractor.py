"""Rasa component: a spaCy ``zh`` pipeline with an EntityRuler built from the CRM catalogue.

Products (with their aliases) and client names are read from the CRM database and
refreshed periodically, so a product added to the database is recognised without
retraining the model.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.catalogue import Term, catalogue_terms
from bot.db import sessions

logger = logging.getLogger(__name__)


def build_pipeline(terms: list[Term]):
    """A blank Chinese spaCy pipeline (jieba segmenter) whose EntityRuler tags ``terms``."""
    import jieba
    import spacy

    for term in terms:
        # Keep catalogue terms whole in jieba, which spaCy and Rasa's tokenizer share.
        jieba.add_word(term.text, freq=2000)
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
    ruler.add_patterns(
        [{"label": t.label, "pattern": t.text, "id": f"{t.label}|{t.value}"} for t in terms]
    )
    return nlp


def find_entities(nlp, text: str) -> list[dict[str, Any]]:
    entities = []
    for ent in nlp(text).ents:
        _label, _sep, value = ent.ent_id_.partition("|")
        entities.append(
            {"entity": ent.label_, "value": value or ent.text, "start": ent.start_char,
             "end": ent.end_char, "confidence_entity": 1.0}
        )
    return entities


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CatalogueEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Tags ``product`` and ``client_name`` from the live CRM catalogue."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Seconds between catalogue reloads from the CRM database.
            "refresh_seconds": 30,
            # None: the CRM database from SALESBOT_DB_URL.
            "db_url": None,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy", "jieba", "sqlalchemy"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CatalogueEntityExtractor:
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._nlp = None
        self._signature: tuple | None = None
        self._loaded_at = float("-inf")

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self._config["refresh_seconds"]:
            return
        self._loaded_at = time.monotonic()
        try:
            with sessions(self._config["db_url"]).begin() as session:
                terms = catalogue_terms(session)
        except Exception:  # noqa: BLE001 - NLU must keep answering without the CRM
            logger.warning("CRM catalogue unavailable; catalogue entities disabled", exc_info=True)
            return
        signature = tuple(terms)
        if signature != self._signature:
            self._nlp = build_pipeline(terms)
            self._signature = signature

    def process(self, messages: list[Message]) -> list[Message]:
        self._refresh()
        if self._nlp is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = self.add_extractor_name(find_entities(self._nlp, text))
            if not found:
                continue
            # The catalogue is authoritative for the spans it knows: drop learned
            # entities of the same type that overlap them.
            kept = [
                e for e in message.get(ENTITIES, [])
                if not any(
                    e.get("entity") == f["entity"] and e["start"] < f["end"] and f["start"] < e["end"]
                    for f in found
                )
            ]
            message.set(ENTITIES, kept + found, add_to_output=True)
        return messages
