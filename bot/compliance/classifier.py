"""The trained half of the compliance judge: a promise the rules (promises.yml) do not know by
pattern is still found by its resemblance to labelled examples.

A logistic regression over character 1-3-grams of the prepared text (simplified, IME typos of kernel
words corrected: bot.compliance.promises.prepare) and 1-2-grams of its fuzzy pinyin (typos the rules
never listed sound the same). It is trained in-process from the labelled sentences in
``labelled/*.yml`` (about 4,000; deterministic, about ten seconds), so a sentence a person adds there
takes effect at the next start. The fitted model is kept in ``.cache/`` under the project, named by a
digest of what it is made from (this package's code and data, the library versions): every later
process (each service, each `salesbot` command) reads it in a fraction of a second instead.
The threshold was chosen by 5-fold cross-validation on those sentences (docs/compliance.md); the
held-out set in tests/data was never used to choose anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import stat
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from bot.compliance.promises import disclaimed, prepare, sound
from bot.linear import for_answering
from bot.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

LABELLED_DIR = Path(__file__).resolve().parent / "labelled"
MODEL_FILE = Path(__file__).resolve().parent / "model.yml"  # the topic gate (see there)
# P(violation) above which a sentence is a finding. Chosen by 5-fold cross-validation over the
# labelled sentences (rules or model, with the gate of model.yml): precision 0.939 and recall 0.914
# at 0.6 (2,743 sentences); 0.5 and 0.7 trade one for the other, and asking for the topic always
# loses 0.09 of recall.
THRESHOLD = 0.6
C = 30.0
_SENTENCE = re.compile(r"[^。！!？?；;\n]+[。！!？?；;\n]*")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")  # a playbook template's blanks say nothing yet
_TITLE = re.compile(r"【[^】]*】")  # a technique's title before a line ("【担心风险】") is not said


@dataclass(frozen=True)
class _Gate:
    min_chars: int
    topics: dict[str, re.Pattern[str]]
    cleared_by: dict[str, re.Pattern[str]]
    sure: float  # from this probability on, no topic is needed


@lru_cache(maxsize=1)
def _gate() -> _Gate:
    raw = yaml.safe_load(MODEL_FILE.read_text(encoding="utf-8"))
    return _Gate(int(raw["min_chars"]), {k: re.compile(v) for k, v in raw["topics"].items()},
                 {k: re.compile(v) for k, v in (raw.get("cleared_by") or {}).items()}, float(raw["sure"]))


def labelled() -> list[dict[str, Any]]:
    """Every labelled sentence the model learns from (text, label ok/violation, kind)."""
    sentences: list[dict[str, Any]] = []
    for path in sorted(LABELLED_DIR.glob("*.yml")):
        sentences += yaml.safe_load(path.read_text(encoding="utf-8"))["sentences"]
    return sentences


def _sounds(prepared: str) -> str:
    return " ".join(sound(c) for c in prepared if not c.isspace())


@dataclass(frozen=True)
class _Model:
    chars: Any
    sounds: Any
    is_violation: Any  # LogisticRegression: ok / violation
    kind: Any  # LogisticRegression over the violations' kinds

    def features(self, prepared: list[str]) -> Any:
        from scipy.sparse import hstack  # lazy: the heavy scientific stack loads only when judging

        return hstack([self.chars.transform(prepared), self.sounds.transform([_sounds(p) for p in prepared])]).tocsr()


CACHE_DIR = PROJECT_ROOT / ".cache"
# What the fitted model depends on besides this package: text normalisation (``prepare``, ``_sounds``)
# and the coefficients' layout (kept in the file).
_ALSO_MADE_FROM = (PROJECT_ROOT / "bot" / "text.py", PROJECT_ROOT / "bot" / "linear.py")
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pypinyin", "opencc", "PyYAML")


def made_from(package: Path = LABELLED_DIR.parent) -> str:
    """A digest of everything the fitted model depends on (``package``: its code, rules and labelled
    sentences; bot/text.py; the Python and library versions): equal digests, same model."""
    digest = hashlib.sha256(sys.version.encode())
    for library in _LIBRARIES:
        try:
            digest.update(f"|{library}={metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"|{library}=-".encode())
    files = sorted(p for p in package.rglob("*") if p.suffix in (".py", ".yml"))
    for path in [*files, *_ALSO_MADE_FROM]:
        name = path.relative_to(package) if path.is_relative_to(package) else path.name
        digest.update(str(name).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _trusted(path: Path) -> bool:
    """Only a cache file and folder of this user that nobody else may write are read: unpickling
    runs code, so a file another account could have put there is fitted again instead."""
    for item in (path.parent, path):
        status = item.stat()
        if status.st_uid != os.getuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


@lru_cache(maxsize=1)
def _model() -> _Model:
    path = CACHE_DIR / f"compliance-{made_from()}.pkl"
    try:
        if _trusted(path):
            return pickle.loads(path.read_bytes())
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a damaged or foreign file: fit again and replace it
        logger.warning("the kept compliance model %s could not be read; fitting it again", path)
    model = fit(labelled())
    _keep(model, path)
    return model


def _keep(model: _Model, path: Path) -> None:
    """Write the fitted model whole or not at all (processes starting together may each write it), and
    drop the ones fitted from earlier versions."""
    temporary = None
    try:
        CACHE_DIR.mkdir(mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=CACHE_DIR, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(model, out)
        os.replace(temporary, path)
        temporary = None
        for old in CACHE_DIR.glob("compliance-*.pkl"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only checkout fits the model in every process, as before
    finally:
        if temporary:
            Path(temporary).unlink(missing_ok=True)


def fit(data: list[dict[str, Any]]) -> _Model:
    """A model trained on ``data`` (labelled sentences); ``_model`` is the one trained on them all."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # lazy: heavy
    from sklearn.linear_model import LogisticRegression

    prepared = [prepare(s["text"]) for s in data]
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(prepared)
    sounds = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True).fit(
        [_sounds(p) for p in prepared])
    model = _Model(chars, sounds, None, None)
    x = model.features(prepared)
    y = [s["label"] == "violation" for s in data]
    is_violation = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(x, y)
    rows = [i for i, v in enumerate(y) if v]
    kind = LogisticRegression(C=C, max_iter=3000).fit(x[rows], [data[i]["kind"] for i in rows])
    return _Model(chars, sounds, for_answering(is_violation), for_answering(kind))


@dataclass(frozen=True)
class Judged:
    sentence: str  # as written (a slice of the prepared text)
    start: int
    probability: float
    kind: str


@lru_cache(maxsize=4096)
def judged(prepared: str) -> tuple[Judged, ...]:
    """Each sentence of the prepared text the model takes for a promise (P above ``THRESHOLD``)."""
    return judged_by(_model(), prepared)


def judged_by(model: _Model, prepared: str) -> tuple[Judged, ...]:
    """``judged`` with a given model (cross-validation trains one per fold)."""
    gate = _gate()
    # Titles blanked out with spaces of the same length, so offsets still point into ``prepared``.
    prepared = _TITLE.sub(lambda m: " " * len(m.group(0)), prepared)
    spans = [(m.start(), m.group(0)) for m in _SENTENCE.finditer(prepared)]
    spans = [(start, text) for start, text in spans
             if len(_PLACEHOLDER.sub("", text).strip(" 。！!？?；;\n，,：:（）()“”\"")) >= gate.min_chars]
    if not spans:
        return ()
    x = model.features([_PLACEHOLDER.sub("", s) for _, s in spans])  # a blank's name is not Chinese
    probabilities = model.is_violation.predict_proba(x)[:, list(model.is_violation.classes_).index(True)]
    out = []
    for row, ((start, sentence), p) in enumerate(zip(spans, probabilities, strict=True)):
        if p <= THRESHOLD:
            continue
        kind = str(model.kind.predict(x[row])[0])
        topic, cleared = gate.topics.get(kind), gate.cleared_by.get(kind)
        plain = _PLACEHOLDER.sub("", sentence)
        on_topic = p >= gate.sure or (topic is not None and topic.search(plain))
        if on_topic and not (cleared and disclaimed(cleared, plain, len(plain))):
            out.append(Judged(sentence.strip(), start, float(p), kind))
    return tuple(out)

