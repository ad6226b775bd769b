"""Train the model, unless nothing it is made from has changed."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
from importlib.metadata import version
from pathlib import Path

from bot.services import rasa_executable, service_env
from bot.settings import PROJECT_ROOT

# Everything a trained model is made from: the config, domain and data, jieba's user dictionary
# (written by `prepare` from the catalogue) and the code of our own trained components (config.yml
# names them); the channels and the rest of the Rasa shell are not part of a model.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "var/jieba", "bot/nlu", "bot/rasa_ext/rehearsal_policy.py")


def training_inputs_digest() -> str:
    """A digest of every training input and of the Rasa version: equal digests, same model."""

    digest = hashlib.sha256(version("rasa").encode())
    for name in TRAINING_INPUTS:
        path = PROJECT_ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(PROJECT_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def train(force: bool = False) -> Path:
    """Train unless nothing the model is made from has changed; returns the model.

    The digest check takes a fraction of a second, where Rasa's own fingerprint check starts Rasa
    and reads all the data (most of a minute): `make test` and every test session ask this again
    right after training."""
    models = PROJECT_ROOT / "models"
    model, stamp = models / "salesbot.tar.gz", models / "salesbot.inputs"
    cmd = [rasa_executable(), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
           "--out", str(models), "--fixed-model-name", "salesbot"]
    if force:
        cmd.append("--force")
    models.mkdir(exist_ok=True)
    # One training at a time per checkout: a second `salesbot train` (another test run, make run)
    # waits, then finds the inputs unchanged instead of training the same model beside it.
    with open(models / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inputs = training_inputs_digest()
        if not force and model.exists() and stamp.exists() and stamp.read_text().strip() == inputs:
            print(f"模型已是最新（训练数据和配置没有变化）：{model}")
            return model
        stamp.unlink(missing_ok=True)
        subprocess.run(cmd, cwd=PROJECT_ROOT, env=service_env(), check=True)
        stamp.write_text(inputs + "\n")
    return model
