"""Loading a trained Rasa model (DIET, in our pipeline) for answering, without building what only
training needs.

Rasa's ``RasaModel.load`` compiles the model with an optimizer and fits it on one example before
it reads the weights, so that every variable exists: that traces the whole training graph (the
entity tagger's CRF loss included) and creates the optimizer's slots. For a model that will only
answer, the saved weights can be read first and restored as the answering graph creates its
variables (TensorFlow's deferred restoration); the first answer, which Rasa runs at load anyway,
creates them, and the restore is then checked to have covered every one of them. Same answers
(tests/test_dialogue.py compares the held-out parses), 7 s instead of about 40 at every start, and
some 500 MB less resident. Fine-tuning keeps Rasa's way: it trains.
"""

from __future__ import annotations

import logging
from typing import Any

import tensorflow as tf
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.models import RasaModel

logger = logging.getLogger(__name__)

_rasa_load = RasaModel.load.__func__

# Set on a model loaded for answering (tests check the fast way was taken, not Rasa's fallback).
ANSWERING_ONLY = "_salesbot_answering_only"


def _load(cls: type[RasaModel], model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
          finetune_mode: bool = False, *args: Any, **kwargs: Any) -> RasaModel:
    if not finetune_mode and predict_data_example is not None:
        try:
            return _answering_only(cls, model_file_name, predict_data_example, *args, **kwargs)
        except Exception:  # noqa: BLE001 - whatever went wrong, Rasa's own way still loads it
            logger.warning("loading %s for answering only failed; loading it as Rasa does", model_file_name,
                           exc_info=True)
    return _rasa_load(cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                      *args, **kwargs)


def _answering_only(cls: type[RasaModel], model_file_name: str, predict_data_example: Any,
                    *args: Any, **kwargs: Any) -> RasaModel:
    config = kwargs.get("config", {})
    model = cls(*args, **kwargs)
    # The optimizer Rasa trains with (nothing of it is built before a training step).
    model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
                  run_eagerly=config.get(RUN_EAGERLY))
    restored = model.load_weights(model_file_name)
    model.run_inference(predict_data_example)  # creates the answering variables: restored as they appear
    restored.expect_partial()  # the optimizer's slots in the file are not needed to answer
    restored.assert_existing_objects_matched()  # every variable answering uses came from the file
    setattr(model, ANSWERING_ONLY, True)
    return model


def install() -> None:
    """Use ``_load`` for every Rasa model loaded in this process (idempotent)."""
    RasaModel.load = classmethod(_load)
