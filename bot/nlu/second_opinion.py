"""Rasa component: a second, independent reading of every line, blended with DIET's.

DIET is sure of itself: a line it has never seen anything like often gets 0.99 for a wrong intent,
so "ask when the top reading is low" rarely fires where it should. A plain logistic regression over
character n-grams and pinyin (the features an IME typo or a dialect spelling still shares with the
training lines) errs on different lines. Averaging the two readings is right more often than either
on the held-out sets, and where they disagree the blended top is low: the FallbackClassifier after
this asks instead of guessing (docs: README "When the assistant asks"; numbers from
`python -m bench.clarify`).
"""

from __future__ import annotations

import pickle
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.linear import TextFeatures, for_answering
from bot.nlu.phone_features import sentence_features
from bot.text import normalize

RANKING_LENGTH = 10


def _pinyin(text: str) -> list[str]:
    return sentence_features(text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SecondOpinion(GraphComponent):
    """Blend DIET's ranking with a logistic regression's: ``weight`` is DIET's share."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"weight": 0.5, "C": 10.0}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: Any | None = None) -> None:
        self.weight = float(config["weight"])
        self.c = float(config["C"])
        self._storage, self._resource = model_storage, resource
        self.model = model  # (vectorizer, classifier) once trained

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SecondOpinion:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> SecondOpinion:
        model = None
        try:
            with model_storage.read_from(resource) as model_dir:
                vectorizer, classifier = pickle.loads((model_dir / "second_opinion.pkl").read_bytes())
                model = (TextFeatures(vectorizer), for_answering(classifier))
        except (ValueError, FileNotFoundError):
            pass
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_union

        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) >= 2:
            vectorizer = make_union(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                                    TfidfVectorizer(analyzer=_pinyin, sublinear_tf=True))
            features = vectorizer.fit_transform([normalize(e.get(TEXT)) for e in examples])
            classifier = LogisticRegression(C=self.c, max_iter=2000)
            classifier.fit(features, [e.get(INTENT) for e in examples])
            with self._storage.write_to(self._resource) as model_dir:
                (model_dir / "second_opinion.pkl").write_bytes(pickle.dumps((vectorizer, classifier)))
            self.model = (TextFeatures(vectorizer), for_answering(classifier))
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        vectorizer, classifier = self.model
        texts = [normalize(m.get(TEXT) or "") for m in messages]
        probabilities = classifier.predict_proba(vectorizer.transform(texts))
        for message, row in zip(messages, probabilities, strict=True):
            if not message.get(TEXT) or message.get(TEXT).startswith("/"):
                continue  # a button's payload names its intent: nothing to second-guess
            self.blend(message, {name: float(p) for name, p in zip(classifier.classes_, row, strict=True)})
        return messages

    def blend(self, message: Message, second: dict[str, float]) -> None:
        scores = {name: (1 - self.weight) * p for name, p in second.items()}
        for entry in message.get(INTENT_RANKING_KEY) or []:
            name = entry.get(INTENT_NAME_KEY)
            scores[name] = scores.get(name, 0.0) + self.weight * float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        ranking = [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: c}
                   for n, c in sorted(scores.items(), key=lambda kv: -kv[1])[:RANKING_LENGTH]]
        if ranking:
            message.set(INTENT, dict(ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
