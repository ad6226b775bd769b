"""Train the model, unless nothing it is made from has changed."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import subprocess
from importlib.metadata import version
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot import floor
from bot.db import sessions
from bot.nlu_eval import evaluate_model
from bot.playbook import playbook
from bot.services import rasa_executable, service_env
from bot.settings import PROJECT_ROOT

# Everything a trained model is made from: the config, domain and data, jieba's user dictionary
# (written by `prepare` from the catalogue) and the code of our own trained components (config.yml
# names them); the channels and the rest of the Rasa shell are not part of a model.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "var/jieba", "bot/nlu", "bot/rasa_ext/rehearsal_policy.py")


def training_inputs_digest(extra: list[str] | None = None) -> str:
    """A digest of every training input (and ``extra`` data files) and of the Rasa version: equal
    digests, same model."""

    digest = hashlib.sha256(version("rasa").encode())
    for name in extra or []:
        digest.update(b"extra\0" + Path(name).read_bytes() + b"\0")
    for name in TRAINING_INPUTS:
        path = PROJECT_ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(PROJECT_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


# The held-out sets the floor's training report measures (written before training, never trained on).
HELD_OUT = {"clean": PROJECT_ROOT / "tests" / "nlu_holdout.yml",
            "realistic": PROJECT_ROOT / "tests" / "nlu_realistic.yml"}


def _floor_data() -> floor.FloorData | None:
    """The lines supervisors accepted, written as training data (None if the CRM cannot say)."""
    try:
        with sessions().begin() as session:
            return floor.write_training_data(session)
    except SQLAlchemyError as error:
        print(f"未能读取待学习语句，本次训练不含它们：{error}")
        return None


# A model is fine-tuned, not trained afresh, when only the floor's lines changed since it was trained:
# its weights start from the model and see a quarter of the epochs (about 3 minutes where a full training
# takes 5 to 10); the featurizers append the floor lines' new words and pinyin to their vocabularies.
# Each round starts from the last one's weights (Rasa calls fine-tuning experimental): after this many
# rounds the next training is full, so that drift cannot accumulate.
FINETUNE_EPOCH_FRACTION = 0.25  # of config.yml's 40 epochs: 10
FINETUNE_ROUNDS = 5


def _stamp(path: Path) -> dict:
    """What the model beside ``path`` was trained from: {"inputs", "base", "finetuned"} (the inputs'
    digest with and without the floor's lines, rounds of fine-tuning since the last full training)."""
    if not path.exists():
        return {}
    text = path.read_text().strip()
    try:
        stamp = json.loads(text)
    except ValueError:
        return {"inputs": text}  # a model stamped before fine-tuning existed: trained in full
    return stamp if isinstance(stamp, dict) else {}


def plan(before: dict, inputs: str, base: str, force: bool = False) -> str:
    """"current" (nothing to do), "finetune" or "full", for a model stamped ``before`` (``_stamp``;
    {} when there is none) and the inputs' digests now with and without the floor's lines."""
    if force or not before:
        return "full"
    if before.get("inputs") == inputs:
        return "current"
    floor_only = inputs != base and before.get("base") == base
    return "finetune" if floor_only and int(before.get("finetuned", 0)) < FINETUNE_ROUNDS else "full"


def train(force: bool = False, models_dir: Path | None = None,
          held_out: dict[str, Path] | None = None) -> Path:
    """Train unless nothing the model is made from has changed; returns the model.

    The data: data/ and the floor's accepted lines (bot/floor.py). When only those lines changed, the
    model is fine-tuned from the one it replaces (``plan``). When they changed, the new model is
    measured on the held-out sets (``held_out``, default ``HELD_OUT``) and the report kept beside the
    floor's data, with the model before it as the baseline the first time.

    The digest check takes a fraction of a second, where Rasa's own fingerprint check starts Rasa
    and reads all the data (most of a minute): `make test` and every test session ask this again
    right after training."""
    models = models_dir or PROJECT_ROOT / "models"
    model, stamp = models / "salesbot.tar.gz", models / "salesbot.inputs"
    data = _floor_data()
    extra = [str(data.path)] if data is not None and data.examples else []
    cmd = [rasa_executable(), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data", *extra,
           "--out", str(models), "--fixed-model-name", "salesbot"]
    models.mkdir(parents=True, exist_ok=True)
    # One training at a time per checkout: a second `salesbot train` (another test run, make run)
    # waits, then finds the inputs unchanged instead of training the same model beside it.
    with open(models / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inputs, base = training_inputs_digest(extra), training_inputs_digest()
        before = _stamp(stamp) if model.exists() else {}
        how = plan(before, inputs, base, force)
        if how == "current":
            print(f"模型已是最新（训练数据和配置没有变化）：{model}")
            return model
        finetune = how == "finetune"
        sets = held_out or HELD_OUT
        reported = {r["version"] for r in floor.reports() if r["kind"] == "trained"}
        report = data is not None and data.examples and data.version not in reported
        if report and not floor.reports() and model.exists():
            floor.add_report(data.version - 1, 0, _scores(model, sets), kind="baseline")
        stamp.unlink(missing_ok=True)
        if finetune:
            print(f"只有现场学习的语句有变化：在现有模型上微调（第 {int(before.get('finetuned', 0)) + 1} 次）")
            # Rasa unpacks the model it starts from before it writes the new one in its place. Without
            # Rasa's training cache: its keys do not say whether a step fine-tuned (from which model) or
            # trained afresh, so a featurizer's vocabulary could be taken from the wrong kind of run.
            tuned = subprocess.run([*cmd, "--force", "--finetune", str(model),
                                    "--epoch-fraction", str(FINETUNE_EPOCH_FRACTION)],
                                   cwd=PROJECT_ROOT, env={**service_env(), "RASA_MAX_CACHE_SIZE": "0"})
            if tuned.returncode != 0:  # e.g. Rasa finds the model and the data no longer fit together
                print("微调未成功，改为完整训练")
                finetune, force = False, True
        if not finetune:
            subprocess.run([*cmd, "--force"] if force else cmd, cwd=PROJECT_ROOT, env=service_env(), check=True)
        rounds = int(before.get("finetuned", 0)) + 1 if finetune else 0
        stamp.write_text(json.dumps({"inputs": inputs, "base": base, "finetuned": rounds}) + "\n")
        if report:
            floor.add_report(data.version, data.examples, _scores(model, sets))
            print(_report_text(floor.movement()))
    return model


def _scores(model: Path, sets: dict[str, Path]) -> dict[str, dict[str, float]]:
    return asyncio.run(evaluate_model(model, sets, floor.floor_dir() / "evaluation"))


def _report_text(moved: dict | None) -> str:
    texts = playbook().messages.clarify_texts
    if moved is None:
        return texts["report_none"]
    sets = "，".join(texts["report_set"].format(name=name, after=f"{after:.3f}",
                                                before="—" if before is None else f"{before:.3f}")
                    for name, (before, after) in moved["sets"].items())
    return texts["report_line"].format(version=moved["version"], examples=moved["examples"], sets=sets)
