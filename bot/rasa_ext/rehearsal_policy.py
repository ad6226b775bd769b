"""Rasa policy: in a rehearsal, every message is a line said to the customer.

While the tracker's ``rehearsal`` slot holds a rehearsal, the trainee's lines must never be read
as the staff requests of live mode ("我是星海银行的李明" is not a client lookup, "我一个小时后再打给
您" is not a callback to book). So this policy, ranked above the RulePolicy, predicts:

* ``action_stop_training`` for stop_training, said clearly (at least ``stop_confidence``) or sent
  by the page's button: stopping always works;
* ``action_start_training`` for the scenario picker's ``/start_training{...}`` payload (a typed
  "我想练一下" stays a line to the customer);
* ``action_rehearsal_turn`` for any other message, whatever its intent;
* ``action_listen`` after any of the three rehearsal actions (also after the one that ended the
  rehearsal, so the turn closes cleanly).

Outside a rehearsal it predicts nothing and the other policies decide.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rehearsal.runner import SLOT

START, TURN, STOP = "action_start_training", "action_rehearsal_turn", "action_stop_training"
OWN_ACTIONS = (START, TURN, STOP)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RehearsalPolicy(Policy):
    """Route every message of a rehearsal to the customer simulator."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above the RulePolicy (6): a rule for the same turn must not win a tie.
        # A clear stop_training ends the rehearsal; a less sure one only if it names the rehearsal
        # ("结束练习" typed fast), so a trainee's goodbye to the customer never ends it by chance.
        return {"priority": 7, "stop_confidence": 0.6,
                "stop_words": ["练", "陪练", "演练", "模拟", "打分", "评分", "成绩", "分数", "得分",
                               "score", "practi", "train", "rehears", "roleplay"]}

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        # Nothing to learn; the resource only has to exist for the predict graph to load.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: dict[str, Any] | None = None,
                                     **kwargs: Any) -> PolicyPrediction:
        action = self.next_action(tracker)
        probabilities = self._default_predictions(domain)
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)

    def next_action(self, tracker: DialogueStateTracker) -> str | None:
        last = tracker.latest_action_name
        if last in OWN_ACTIONS:
            return ACTION_LISTEN_NAME
        if last != ACTION_LISTEN_NAME or not tracker.get_slot(SLOT):
            return None
        message = tracker.latest_message
        intent = message.intent or {}
        text = (message.text or "").strip()
        payload = text.startswith("/")
        if self._asks_to_stop(message, text, payload):
            return STOP
        if intent.get("name") == "start_training" and payload:
            return START
        return TURN

    def _asks_to_stop(self, message: Any, text: str, payload: bool) -> bool:
        # The best reading other than the fallback (the FallbackClassifier puts itself first).
        ranking = [r for r in (message.parse_data.get("intent_ranking") or [message.intent or {}])
                   if r.get("name") != "nlu_fallback"]
        best = ranking[0] if ranking else {}
        if best.get("name") != "stop_training":
            return False
        if payload or float(best.get("confidence") or 0.0) >= float(self.config["stop_confidence"]):
            return True
        lowered = text.lower()
        return any(word in lowered for word in self.config["stop_words"])
