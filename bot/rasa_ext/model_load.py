"""Loading a trained DIET model for answering, without building what only training needs.

Rasa's ``RasaModel.load`` compiles the model with an optimizer and fits it on one example before
it reads the weights, so that every variable exists: that traces the whole training graph (the
entity tagger's CRF loss included) and creates the optimizer's slots. For a model that will only
answer, the saved weights can be read first and restored as the answering graph creates its
variables (TensorFlow's deferred restoration); the first answer, which Rasa runs at load anyway,
creates them. Same answers (the held-out parses are compared in tests/test_dialogue.py), about half
a minute less at every start and some 500 MB less resident. Fine-tuning keeps Rasa's way: it trains.
"""

from __future__ import annotations

from typing import Any

from rasa.utils.tensorflow.models import RasaModel

_rasa_load = RasaModel.load.__func__


def _load(cls: type[RasaModel], model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
          finetune_mode: bool = False, *args: Any, **kwargs: Any) -> RasaModel:
    if finetune_mode or predict_data_example is None:
        return _rasa_load(cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                          *args, **kwargs)
    model = cls(*args, **kwargs)
    model.compile(run_eagerly=kwargs.get("config", {}).get("run_eagerly"))
    restored = model.load_weights(model_file_name)
    model.run_inference(predict_data_example)  # creates the answering variables: restored as they appear
    restored.expect_partial()  # the optimizer's slots in the file are not needed to answer
    try:
        restored.assert_existing_objects_matched()  # every variable answering uses came from the file
    except AssertionError:
        return _rasa_load(cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                          *args, **kwargs)
    return model


def install() -> None:
    """Use ``_load`` for every Rasa model loaded in this process (idempotent)."""
    RasaModel.load = classmethod(_load)
