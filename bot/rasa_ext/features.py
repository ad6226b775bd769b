"""Combining a message's features in one step.

Before DIET reads a message, Rasa joins the features of every featurizer (regexes, word and character
n-grams, pinyin) into one matrix: it deep-copies the first and stacks each next one onto the result, one
sparse ``hstack`` per featurizer, twice per message (sequence and sentence features); about 1 ms a
message with our four sparse featurizers. Stacking them all at once gives the same matrix (same
columns in the same order, same type) in under half the time, and leaves the message's own features
untouched as Rasa's copy does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from scipy import sparse

_rasa_combine = Message._combine_features


def combine_features(features: list[Features], featurizers: list[str]) -> Features | None:
    """Rasa's ``Message._combine_features``: one ``Features`` of ``features`` side by side, or None."""
    if len(features) < 2:
        return _rasa_combine(features, featurizers)
    first = features[0]
    if all(f.is_sparse() for f in features) and len({f.features.shape[0] for f in features}) == 1:
        matrix: Any = sparse.hstack([f.features for f in features])
    elif all(f.is_dense() for f in features) and len({f.features.ndim for f in features}) == 1:
        matrix = np.concatenate([f.features for f in features], axis=-1)
    else:
        return _rasa_combine(features, featurizers)  # Rasa's own error for mixed or mismatched features
    return Features(matrix, first.type, first.attribute, featurizers)


def install() -> None:
    """Combine features in one step in this process (idempotent)."""
    Message._combine_features = staticmethod(combine_features)
