"""Validity of the rehearsal score (issue 20, point 7): graded transcripts played through the simulator.

tests/data/rehearsal_graded.yml holds trainee transcripts, each with the grade a trainer wrote before
any of them was run (the writer never saw the scorer, the rubric or the simulator). Every transcript
is played line by line through the simulated customer (bot.rehearsal.roleplay, seeded); the trainee's
remaining lines are dropped once the customer ends the call. The product's scores must rank the
transcripts as the trainer does (Spearman's rho at least 0.85) and no gaming attempt may score above
40. The figures go to test-artifacts/rehearsal-validity-report.txt, printed at the end of `make test`.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from scipy.stats import spearmanr

from bot.rehearsal import roleplay
from bot.rehearsal.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parent.parent
GRADED = ROOT / "tests" / "data" / "rehearsal_graded.yml"
REPORT = ROOT / "test-artifacts" / "rehearsal-validity-report.txt"
BANK = "星海银行"
MIN_RHO = 0.85
MAX_GAMING = 40
pytestmark = pytest.mark.slow  # the move and compliance models train at first use


def play(scenario_id: str, lines: list[str], seed: int = 0) -> roleplay.Session:
    """The rehearsal after the trainee said ``lines`` (those after the customer ended the call dropped)."""
    rng = random.Random(seed)
    session = roleplay.start(scenario_id)
    for line in lines:
        if session.ended:
            break
        session, _reply = roleplay.reply(session, line, rng)
    return session


@pytest.fixture(scope="module")
def played() -> list[dict]:
    graded = yaml.safe_load(GRADED.read_text(encoding="utf-8"))["transcripts"]
    out = []
    for t in graded:
        session = play(t["scenario"], t["trainee"])
        card = roleplay.finish(session, bank=BANK)
        out.append({**t, "score": card.total, "outcome": session.outcome or roleplay.ABANDONED})
    rho = spearmanr([t["grade"] for t in out], [t["score"] for t in out]).statistic
    gaming = [t for t in out if t["gaming"]]
    worst = max(gaming, key=lambda t: t["score"])
    lines = [f"rehearsal validity ({GRADED.name}): {len(out)} graded transcripts, Spearman rho {rho:.3f} "
             f"(at least {MIN_RHO}); {len(gaming)} gaming attempts, highest score {worst['score']} "
             f"({worst['id']}; at most {MAX_GAMING})"]
    lines += [f"  {t['grade']:3d} {t['score']:3d}  {t['outcome']:<15} {t['id']}" for t in sorted(out, key=lambda t: -t["grade"])]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_graded_set_covers_every_scenario_and_kind_of_gaming():
    graded = yaml.safe_load(GRADED.read_text(encoding="utf-8"))["transcripts"]
    assert len(graded) >= 40
    assert {t["scenario"] for t in graded} == {s.id for s in load_scenarios()}
    gaming = [t for t in graded if t["gaming"]]
    assert len(gaming) >= 10
    assert {"keywords", "pasted_paragraph", "polite_then_nothing", "question_tags", "fake_facts",
            "one_word"} <= {t["gaming"] for t in gaming}


def test_scores_rank_transcripts_as_the_trainer_does(played):
    rho = spearmanr([t["grade"] for t in played], [t["score"] for t in played]).statistic
    assert rho >= MIN_RHO, REPORT.read_text(encoding="utf-8")


def test_no_gaming_attempt_scores_above_40(played):
    over = [(t["id"], t["score"]) for t in played if t["gaming"] and t["score"] > MAX_GAMING]
    assert not over, over
