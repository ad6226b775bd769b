"""The trainee-move model (issue 20, point 1): what a trainee's line does, judged by a trained model.

Measured on tests/data/rehearsal_moves_holdout.yml (written apart from the training pairs; it picked
the model's setting among four, see bot/rehearsal/moves.py, so the figure is slightly optimistic); the
per-move report goes to test-artifacts/rehearsal-moves-report.txt and is printed at the end of the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.metrics import f1_score

from bot.rehearsal.moves import MOVES, model, moves_of, pairs, training_pairs

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = ROOT / "tests" / "data" / "rehearsal_moves_holdout.yml"
# Long, multi-part lines in experienced trainers' style, by a third writer; never trained on.
HOLDOUT_2 = ROOT / "tests" / "data" / "rehearsal_moves_holdout_2.yml"
REPORT = ROOT / "test-artifacts" / "rehearsal-moves-report.txt"
# Answers aimed at another objection than the one raised, beside answers to it (418 pairs): the model's
# known weakness, measured (answers_objection's precision on it is the figure to raise).
HOLDOUT_3 = ROOT / "tests" / "data" / "rehearsal_moves_holdout_3.yml"
# The shipped model on the held-out pairs (2026-12-07): macro-F1 0.802 on the first set (off_topic and
# pressure weakest, about 0.6). The floors only catch a regression.
# The third at its first run: 0.770 (answers_objection 0.67); 0.749 once the evasive replies were learnt.
MIN_MACRO_F1 = {HOLDOUT: 0.76, HOLDOUT_2: 0.74, HOLDOUT_3: 0.72}  # the second: 0.791 at its first run
pytestmark = pytest.mark.slow  # training the model takes about 5 s: make test only


def _macro_f1(path: Path) -> tuple[float, list[str]]:
    held_out = pairs(path)
    assert not {p["trainee"] for p in held_out} & {p["trainee"] for p in training_pairs()}
    found = model().probabilities([p["trainee"] for p in held_out], [p.get("objection") for p in held_out])
    moves = [m for m in MOVES if any(m in (p["moves"] or ()) for p in held_out)]
    gold = [[int(m in (p["moves"] or ())) for m in moves] for p in held_out]
    said = [[int(f.get(m, 0.0) > 0.5) for m in moves] for f in found]
    per_move = f1_score(gold, said, average=None, zero_division=0)
    macro = float(per_move.mean())
    lines = [f"trainee moves, held-out ({path.name}): {len(held_out)} lines, macro-F1 {macro:.3f}"]
    lines += [f"  {f:.2f}  {sum(g[i] for g in gold):3d}  {m}" for i, (m, f) in
              sorted(enumerate(zip(moves, per_move, strict=True)), key=lambda kv: kv[1][1])]
    return macro, lines


def test_held_out_macro_f1():
    results = {path: _macro_f1(path) for path in (HOLDOUT, HOLDOUT_2, HOLDOUT_3)}
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(line for _macro, lines in results.values() for line in lines) + "\n",
                      encoding="utf-8")
    for path, (macro, lines) in results.items():
        assert macro >= MIN_MACRO_F1[path], "\n".join(lines)


@pytest.mark.parametrize(("objection", "line", "has", "lacks"), [
    ("objection_busy", "抱歉打扰了，那我今天下午三点再给您打过去，行吗？", {"offer_time"}, {"pressure"}),
    ("objection_busy", "那您忙，晚点再说吧。", set(), {"offer_time"}),
    ("objection_think_it_over", "理解 顾虑 具体时间 网点办理 风险提示", {"keyword_list"}, set()),
    ("objection_risk", "这款稳享理财本金一分都少不了，您就放心买吧", {"promise"}, set()),
    ("objection_risk", "这款产品不保证本金和收益，风险等级R2，购买前要先做风险测评", set(), {"promise"}),
])
def test_contrasting_lines_are_told_apart(objection, line, has, lacks):
    found = moves_of(line, objection)
    assert has <= found and not (lacks & found), found
