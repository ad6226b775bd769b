"""Rasa featurizer for how agents type during a call: pinyin, so IME homophones share features,
and whether the line relays the customer's words (客户说/他说/对方讲 ...).

Agents type with pinyin IMEs at speed: 不虚要 for 不需要, 开汇 for 开会, 打措 for 打错, 回放 for
回访. The characters differ, the toneless pinyin does not. This component adds, for every token,
the toneless syllables it is pronounced with (plus a "fuzzy" form that merges the initials and
finals southern speakers and hasty typists confuse: zh/z, ch/c, sh/s, n/l, ang/an, eng/en, ing/in),
and for the sentence the syllable unigrams and bigrams of the whole line, so the features do not
depend on how jieba segmented a misspelt word.

The relay flag lets the classifier tell the customer's "算了" (a refusal) from the agent's own
"取消" (deny) by the 客户说 prefix, whatever words the prefix uses.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

TOKENS = "text_tokens"
RELAYED = "relay:yes"
OWN = "relay:no"
# Someone else's words: 客户说 / 他讲 / 对方回 / 客人： / 她问 ... at the start of the line.
# Dialect forms too (佢话 / 伊讲 / 渠说), pinyin typed with the IME off (kehu shuo, ta shuo) and English
# (client says, he said).
RELAY = re.compile(
    r"^\s*(?:那个|嗯|呃)?\s*(?:(?:客户|顾客|客人|对方|那边|人家|他|她|佢|伊|渠|老板|阿姨|大爷|先生|女士|小姐)"
    r"\s*(?:说|讲|回|问|答|回答|表示|反馈|嘀咕|吐槽|话|噉讲|：|:)"
    r"|(?:kehu|keren|duifang|ta)\s*(?:shuo|jiang)"
    r"|(?:the\s+)?(?:client|customer|he|she|they)\s+(?:says|said|asks|asked)\b)",
    re.IGNORECASE,
)
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


def _fuzzy(syllable: str) -> str:
    for a, b in _FUZZY_INITIALS:
        if syllable.startswith(a):
            syllable = b + syllable[len(a):]
            break
    for a, b in _FUZZY_FINALS:
        if syllable.endswith(a):
            return syllable[: -len(a)] + b
    return syllable


def syllables(text: str) -> list[str]:
    """Toneless pinyin of ``text``: its Chinese characters' and, for the agent typing with the IME off,
    its latin words that are pinyin ("kehu shuo bu xuyao" gives what 客户说不需要 gives); other words
    (English, abbreviations) are skipped."""
    found: list[str] = []
    for chunk in _CHUNK.findall(text):
        if chunk.isascii():
            found += _split_pinyin(chunk.lower()) or []
        else:
            found += _hanzi_pinyin(chunk)
    return found


_CHUNK = re.compile(r"[A-Za-z]+|[\u3400-\u9fff]+")


def _hanzi_pinyin(chunk: str) -> list[str]:
    from pypinyin import lazy_pinyin

    return [s for s in lazy_pinyin(chunk, errors="ignore") if s.isascii() and s.isalpha()]


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable with a vowel (from pypinyin's dictionary; ü written v)."""
    from pypinyin.constants import PINYIN_DICT

    found = set()
    for readings in PINYIN_DICT.values():
        for reading in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
            plain = plain.replace("ü", "v")
            if plain.isascii() and plain.isalpha() and any(v in plain for v in "aeiouv"):
                found.add(plain)
    return frozenset(found)


@lru_cache(maxsize=16384)
def _split_pinyin(word: str) -> tuple[str, ...] | None:
    """``word`` as the fewest pinyin syllables ("kehushuo" -> ke hu shuo), or None if it is not pinyin."""
    valid, longest = _pinyin_syllables(), 6
    best: list[tuple[str, ...] | None] = [()] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - longest), end):
            head, piece = best[start], word[start:end]
            if head is not None and piece in valid and (best[end] is None or len(head) + 1 < len(best[end])):
                best[end] = (*head, piece)
    return best[-1]


def is_relayed(text: str) -> bool:
    return bool(RELAY.match(text or ""))


def token_features(text: str) -> list[str]:
    return list(_token_features(text))


# Tokens repeat across messages (客户, 说, 不需要 ...) and pypinyin is the costly part: remember them.
@lru_cache(maxsize=16384)
def _token_features(text: str) -> tuple[str, ...]:
    found = syllables(text)
    return tuple([f"py:{s}" for s in found] + [f"fz:{_fuzzy(s)}" for s in found])


def sentence_features(text: str) -> list[str]:
    return list(_sentence_features(text))


# A line is read twice (this featurizer, then the second opinion's pinyin n-grams): once is enough.
@lru_cache(maxsize=4096)
def _sentence_features(text: str) -> tuple[str, ...]:
    found = syllables(text)
    names = [f"py:{s}" for s in found] + [f"fz:{_fuzzy(s)}" for s in found]
    names += [f"py2:{a}_{b}" for a, b in zip(found, found[1:], strict=False)]
    names += [f"fz2:{_fuzzy(a)}_{_fuzzy(b)}" for a, b in zip(found, found[1:], strict=False)]
    names.append(RELAYED if is_relayed(text) else OWN)
    return tuple(names)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class PhoneTalkFeaturizer(SparseFeaturizer, GraphComponent):
    """Pinyin (exact and fuzzy) token and sentence features, and the relayed-speech flag."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_count": 2}

    @staticmethod
    def required_packages() -> list[str]:
        return ["pypinyin"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("min_count", 1)) < 1:
            raise ValueError("min_count must be at least 1")

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, vocabulary: dict[str, int] | None = None) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or {}
        # Fine-tuning starts DIET from trained weights: known features keep their columns, new ones
        # are appended (as Rasa's CountVectorsFeaturizer does; DIET widens its input to match).
        self.finetune_mode = execution_context.is_finetuning

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> PhoneTalkFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> PhoneTalkFeaturizer:
        vocabulary = None
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = read_json_file(model_dir / "vocabulary.json")
        except (ValueError, FileNotFoundError):
            pass
        return cls(config, model_storage, resource, execution_context, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        counts: dict[str, int] = {}
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if not text:
                continue
            for name in set(sentence_features(text)):
                counts[name] = counts.get(name, 0) + 1
        keep = sorted(n for n, c in counts.items() if c >= self._config["min_count"] or n.startswith("relay:"))
        if self.finetune_mode and self.vocabulary:
            known = dict(self.vocabulary)
            for name in keep:
                known.setdefault(name, len(known))
            self.vocabulary = known
        else:
            self.vocabulary = {name: index for index, name in enumerate(keep)}
        with self._model_storage.write_to(self._resource) as model_dir:
            dump_obj_as_json_to_file(model_dir / "vocabulary.json", self.vocabulary)
        return self._resource

    def _featurize(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS) or []
        if not text or not tokens or not self.vocabulary:
            return
        size = len(self.vocabulary)
        sequence = np.zeros((len(tokens), size), dtype=np.float32)
        for row, token in enumerate(tokens):
            for name in token_features(token.text):
                column = self.vocabulary.get(name)
                if column is not None:
                    sequence[row, column] = 1.0
        sentence = np.zeros((1, size), dtype=np.float32)
        for name in sentence_features(text):
            column = self.vocabulary.get(name)
            if column is not None:
                sentence[0, column] = 1.0
        self.add_features_to_message(scipy.sparse.coo_matrix(sequence), scipy.sparse.coo_matrix(sentence),
                                     TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._featurize(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages
