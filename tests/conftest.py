"""Shared fixtures: a fresh, migrated SQLite CRM per test; one trained model per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture()
def crm_url(tmp_path, monkeypatch) -> str:
    """A migrated CRM database with the demo data, used by everything in the test."""
    from bot import migrate
    from bot.db import sessions
    from bot.demo_data import load_demo_data

    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    monkeypatch.setenv("SALESBOT_DB_URL", url)
    monkeypatch.setenv("SALESBOT_TRACKER_URL", f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SALESBOT_SECRET", "test-secret")
    migrate.upgrade(url)
    with sessions(url).begin() as session:
        load_demo_data(session)
    return url


@pytest.fixture()
def session(crm_url):
    from bot.db import sessions

    with sessions(crm_url).begin() as session:
        yield session


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The project's model, trained once; Rasa's fingerprint skips retraining if nothing changed."""
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([sys.executable, "-m", "bot.cli", "train"], cwd=ROOT, env=env, check=True)
    model = ROOT / "models" / "salesbot.tar.gz"
    assert model.exists()
    return model
