"""One scorer per rubric item (rubric.yml): each reads the transcript and returns its ItemScore
with the feedback and, for a miss, the playbook's model line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import NamedTuple

from bot.playbook import playbook
from bot.rehearsal.cues import (
    CALLBACK_ACTION_RE,
    CONCRETE_STEP_RE,
    DISCLOSURE_PARTS,
    DNC_ENDING_RE,
    NEGATION_RE,
    POLITE_WORDS,
    RISK_LEVEL_RE,
    RUDE_PHRASES,
    TIME_RE,
    VAGUE_STEP_RE,
    WRONG_LEVEL_RE,
    benefit_count,
    is_pitch,
)
from bot.rehearsal.model_lines import (
    ScoringContext,
    labelled,
    model,
    objection_model,
    objection_technique,
    pitch_technique,
    risk_spoken,
)
from bot.rehearsal.reading import Reading
from bot.rehearsal.rubric import answer_result, rubric
from bot.rehearsal.turns import CUSTOMER, TRAINEE, ItemScore, Turn
from bot.text import normalize


class Said(NamedTuple):
    """One trainee line as the card reads it."""

    place: int  # in the whole transcript, 1-based (第3句 = the third turn)
    text: str  # normalised
    objection: str | None  # what the customer had just raised (None: nothing)
    reading: Reading


Lines = list[Said]


def norm(turn: Turn) -> str:
    return normalize(turn.text or "").upper()


def item(key: str, points: float, feedback: str, model_line: str | None,
         checks: Sequence[tuple[str, bool, str]] = ()) -> ItemScore:
    r = rubric()
    max_points = r.weights[key]
    points = max(0, min(max_points, round(points)))
    listed = tuple({"label": label, "ok": ok, "where": where} for label, ok, where in checks)
    return ItemScore(key, r.titles[key], points, max_points, feedback,
                     None if points == max_points else model_line, listed)


def _turn_list(indexes: Iterable[int]) -> str:
    return "、".join(str(i) for i in indexes)


def _turns(indexes: Sequence[int]) -> str:
    """第3、5句: where a check was met."""
    return rubric().items["opening"]["where"].format(turn=_turn_list(indexes))


def dnc_pitches(turns: Sequence[Turn], ctx: ScoringContext) -> list[int]:
    """Trainee lines (1-based) that sell or book a callback after the customer asked not to be called."""
    dnc = playbook().do_not_call
    start = next((i for i, t in enumerate(turns) if t.speaker == CUSTOMER and t.objection == dnc), None)
    if start is None:
        return []
    return [i + 1 for i, t in enumerate(turns) if i > start and t.speaker == TRAINEE and is_pitch(norm(t), ctx)]


def score_opening(trainee: Lines, ctx: ScoringContext) -> ItemScore:
    text_of = rubric().items["opening"]
    line = model(playbook().openings["direct"], ctx)
    if not trainee:
        return item("opening", 0, text_of["none"], line)
    first = trainee[0]
    checks = [(points, label.format(bank=ctx.bank), not first.reading.hollow and check(first, ctx))
              for points, label, check in rubric().opening_checks]
    points = sum(p for p, _label, ok in checks if ok)
    missed = [label for _p, label, ok in checks if not ok]
    where = text_of["where"].format(turn=first.place)
    listed = [(label, ok, where if ok else rubric().card["not_said"]) for _p, label, ok in checks]
    if not missed:
        return item("opening", points, text_of["full"], None, listed)
    return item("opening", points, text_of["missed"].format(missed="；".join(missed)), line, listed)


def score_questions(trainee: Lines, ctx: ScoringContext) -> ItemScore:
    text_of = rubric().items["questions"]
    line = model(pitch_technique(), ctx)
    benefit_lines = [said for said in trainee if said.reading.does("benefit")]
    if not benefit_lines:
        return item("questions", 0, text_of["none"], line)
    unasked = [said.place for said in benefit_lines if not said.reading.does("question")]
    dumps = [said.place for said in benefit_lines if benefit_count(said.text, ctx) >= 3]
    points = (text_of["asked_points"] * (len(benefit_lines) - len(unasked)) / len(benefit_lines)
              + (0 if dumps else text_of["one_at_a_time_points"]))
    problems = []
    if unasked:
        problems.append(text_of["unasked"].format(turns=_turn_list(unasked)))
    if dumps:
        problems.append(text_of["dumps"].format(turns=_turn_list(dumps)))
    asked = [said.place for said in benefit_lines if said.place not in unasked]
    single = [said.place for said in benefit_lines if said.place not in dumps]
    listed = [(text_of["asked_check"], not unasked, problems[0] if unasked else _turns(asked)),
              (text_of["one_at_a_time_check"], not dumps, problems[-1] if dumps else _turns(single))]
    if not problems:
        return item("questions", points, text_of["full"].format(count=len(benefit_lines)), None, listed)
    return item("questions", points, "；".join(problems) + "。" + text_of["advice"], line, listed)


def _objection_name(intent: str) -> str:
    technique = playbook().objections.get(intent)
    return technique.name if technique else intent


def answer(said: Said | None, intent: str, ctx: ScoringContext) -> tuple[float, str, list[str]]:
    """How one objection was handled: (fraction, kind of result, what to name), the same for the
    score card and the simulated customer (who is won over when the fraction is above 0).

    It counts when the line says something new (not a repeat, a word list or question tags around a
    few characters) and answers this objection: the move model hears an answer (or, for a busy or
    hesitant customer, a concrete callback time; for do-not-call, respect), or most of the playbook
    technique's steps (rubric.yml) are in it even though the model is unsure. The steps then make up
    the rest of the points, and a don't or an offence voids the answer."""
    if said is None:
        return 0.0, "no_answer", []
    r = said.reading
    if r.repeats is not None:
        return 0.0, "repeated", []
    if r.hollow:
        return 0.0, "hollow", []
    fraction, missed, donts = answer_result(intent, said.text, ctx)
    heard = r.answers or (intent in playbook().callback_objections and r.does("offer_time")) or (
        intent == playbook().do_not_call and r.does("respects_refusal"))
    text_of = rubric().items["objections"]
    offences = list(r.forbidden) + ([text_of["pressure"]] if r.pressure else [])
    if donts or offences:  # named whether or not the line answers: a don't is the first thing to fix
        return 0.0, "donts", donts + offences
    if not (heard or fraction >= text_of["steps_alone"]):
        return 0.0, "off_target", []
    base = text_of["answered_share"]
    return base + (1 - base) * fraction, ("missed" if missed else "right"), missed


def score_objections(turns: Sequence[Turn], trainee: Lines, ctx: ScoringContext,
                     outcome: str | None = None) -> ItemScore:
    text_of = rubric().items["objections"]
    raised = [(i + 1, t.objection) for i, t in enumerate(turns) if t.speaker == CUSTOMER and t.objection]
    if not raised:
        if outcome in rubric().unfinished:  # ended before the customer said what worried them: nothing earned
            return item("objections", 0, text_of["none_raised_unfinished"], None)
        return item("objections", rubric().weights["objections"], text_of["none_raised"], None)
    fractions: list[float] = []
    notes: list[str] = []
    models: list[str] = []
    listed: list[tuple[str, bool, str]] = []
    for place, intent in raised:
        said = next((x for x in trainee if x.place == place + 1), None)
        fraction, result, named = answer(said, intent, ctx)
        turn = said.place if said else place + 1
        what = text_of[result].format(turn=turn, missed="、".join(named), donts="、".join(named))
        fractions.append(fraction)
        notes.append(text_of["note"].format(name=_objection_name(intent), turn=place, what=what))
        listed.append((text_of["check"].format(name=_objection_name(intent), turn=place), fraction > 0, what))
        if fraction < 1.0:
            line = objection_model(intent, ctx)
            if line and line not in models:
                models.append(line)
    pitches = dnc_pitches(turns, ctx)
    if pitches:
        notes.append(text_of["dnc_pitch"].format(turns=_turn_list(pitches)))
        points = 0.0
        line = objection_model(playbook().do_not_call, ctx)
        if line and line not in models:
            models.insert(0, line)
    else:
        points = rubric().weights["objections"] * sum(fractions) / len(fractions)
    feedback = "；".join(notes) + "。"
    if models:
        feedback += text_of["advice"]
    return item("objections", points, feedback, "\n".join(models) or None, listed)


def score_next_step(turns: Sequence[Turn], trainee: Lines, ctx: ScoringContext,
                    outcome: str | None = None) -> ItemScore:
    pb = playbook()
    text_of = rubric().items["next_step"]
    objections = [t.objection for t in turns if t.speaker == CUSTOMER and t.objection]
    if pb.do_not_call in objections:
        line = objection_model(pb.do_not_call, ctx)
        if dnc_pitches(turns, ctx):
            return item("next_step", 0, text_of["dnc_pitched"], line)
        last = trainee[-1].text if trainee else ""
        if NEGATION_RE.search(last) or DNC_ENDING_RE.search(last):
            return item("next_step", rubric().weights["next_step"], text_of["dnc_right"], None)
        return item("next_step", 0, text_of["dnc_missing"], line)
    last_callback = next((o for o in reversed(objections) if o in pb.callback_objections), None)
    if last_callback and objections[-1] == last_callback:
        line = objection_model(last_callback, ctx)
    else:
        line = labelled(pb.interested, ctx)
    if outcome == "hung_up":
        return item("next_step", 0, text_of["hung_up"], line)
    ending = " ".join(said.text for said in trainee[-2:] if not said.reading.hollow)
    if CONCRETE_STEP_RE.search(ending) or (TIME_RE.search(ending) and CALLBACK_ACTION_RE.search(ending)):
        return item("next_step", rubric().weights["next_step"], text_of["concrete"], None)
    if VAGUE_STEP_RE.search(ending):
        return item("next_step", text_of["vague_points"], text_of["vague"], line)
    return item("next_step", 0, text_of["none"], line)


def score_courtesy(trainee: Lines, ctx: ScoringContext) -> ItemScore:
    text_of = rubric().items["courtesy"]
    line = labelled(playbook().closing, ctx)
    text = "\n".join(said.text for said in trainee)
    if not text:
        return item("courtesy", 0, text_of["none"], line)
    rude = [p for p in RUDE_PHRASES if p in text and not any(p != q and p in q and q in text for q in RUDE_PHRASES)]
    polite = [w for w in POLITE_WORDS if w in text]
    uses_nin = "您" in text and text.count("您") >= text.count("你")
    polite_points = text_of["polite_points"]
    points = (text_of["nin_points"] if uses_nin else 0) + (
        polite_points if len(polite) >= 2 else polite_points // 2 if polite else 0)
    problems = []
    if not uses_nin:
        problems.append(text_of["use_nin"])
    if len(polite) < 2:
        problems.append(text_of["more_polite"])
    if rude:
        points -= text_of["rude_penalty"] * len(rude)
        problems.append(text_of["rude"].format(rude="、".join(rude)))
    else:
        points += text_of["not_rude_points"]
    labels = text_of["checks"]
    listed = [(labels[0], uses_nin, text_of["use_nin"] if not uses_nin else "您"),
              (labels[1], len(polite) >= 2, "、".join(polite) if len(polite) >= 2 else text_of["more_polite"]),
              (labels[2], not rude, text_of["rude"].format(rude="、".join(rude)) if rude else "—")]
    if not problems:
        return item("courtesy", points, text_of["full"].format(polite="、".join(polite)), None, listed)
    return item("courtesy", points, "；".join(problems) + "。", line, listed)


def score_compliance(trainee: Lines, ctx: ScoringContext, forbidden: list[str]) -> ItemScore:
    pb = playbook()
    text_of = rubric().items["compliance"]
    text = "\n".join(said.text for said in trainee)
    risk_model = objection_technique("objection_risk", ctx)
    clean = (text_of["no_forbidden_check"], True, "—")
    if forbidden:
        line = text_of["forbidden_model"] + (model(risk_model, ctx) if risk_model else pb.disclosure)
        return item("compliance", 0, text_of["forbidden"].format(phrases="、".join(forbidden), cap=rubric().cap), line,
                    [(text_of["no_forbidden_check"], False, "、".join(forbidden))])
    faults = _faults(trainee, text, ctx)
    if faults:
        points = rubric().weights["compliance"] - text_of["fault_penalty"] * len(faults)
        return item("compliance", points, text_of["faults"].format(faults="；".join(faults)),
                    risk_spoken(ctx).removeprefix("同时") or pb.disclosure,
                    [clean, *((fault, False, f"-{text_of['fault_penalty']}") for fault in faults)])
    if not ctx.wealth:
        return item("compliance", rubric().weights["compliance"], text_of["not_wealth"], None, [clean])
    said = [(name, _first_place(trainee, pattern)) for name, pattern in DISCLOSURE_PARTS]
    wrong = sorted({level for level in WRONG_LEVEL_RE.findall(text) if ctx.risk_level and level != ctx.risk_level})
    said.append(("风险等级", None if wrong else _first_place(trainee, RISK_LEVEL_RE)))
    points = text_of["no_forbidden_points"] + text_of["part_points"] * sum(place is not None for _name, place in said)
    missed = [name for name, place in said if place is None]
    listed = [clean, *((name, place is not None, _turns([place]) if place is not None else rubric().card["not_said"])
                       for name, place in said)]
    if wrong:
        feedback = text_of["wrong_level"].format(product=ctx.values["product"], risk_level=ctx.risk_level,
                                                 wrong="、".join(wrong))
        return item("compliance", points, feedback, risk_spoken(ctx).removeprefix("同时"), listed)
    if not missed:
        return item("compliance", points, text_of["full"].format(disclosure=pb.disclosure), None, listed)
    feedback = text_of["missed"].format(product=ctx.values["product"], disclosure=pb.disclosure,
                                        missed="、".join(missed))
    return item("compliance", points, feedback, risk_spoken(ctx).removeprefix("同时"), listed)


def _first_place(trainee: Lines, pattern: re.Pattern[str]) -> int | None:
    """Where the trainee first said something ``pattern`` finds (None: never)."""
    return next((said.place for said in trainee if pattern.search(said.text)), None)


def _faults(trainee: Lines, text: str, ctx: ScoringContext) -> list[str]:
    """What a compliance officer would fault short of a forbidden promise: a false fact, pressure, a
    risk level stated for a product that has none (only wealth products carry R1-R5)."""
    text_of = rubric().items["compliance"]
    faults = []
    if not ctx.wealth and WRONG_LEVEL_RE.search(text):
        faults.append(text_of["level_not_wealth"].format(product=ctx.values["product"]))
    false_facts = [said.place for said in trainee if "false_fact" in said.reading.moves]
    if false_facts:
        faults.append(text_of["false_fact"].format(turns=_turn_list(false_facts)))
    pushed = [said.place for said in trainee if said.reading.pressure]
    if pushed:
        faults.append(text_of["pressure"].format(turns=_turn_list(pushed)))
    return faults


def substance(trainee: Lines) -> float:
    """The share of the trainee's lines that say something: not a word list, a repeat, question tags
    around a few characters or off topic."""
    return sum(not said.reading.hollow for said in trainee) / len(trainee)


def scaled(score: ItemScore, share: float) -> ItemScore:
    """``score`` earned only for the share of lines that did their job (named when it costs points)."""
    points = max(0, min(score.max_points, round(score.points * share)))
    if points == score.points:
        return score
    note = rubric().card["substance"].format(percent=round(share * 100))
    return replace(score, points=points, feedback=f"{score.feedback}{note}")


def empty_model(key: str, turns: Sequence[Turn], ctx: ScoringContext) -> ItemScore:
    """An item scored on no trainee line, only for its model line."""
    pb = playbook()
    if key == "opening":
        return score_opening([], ctx)
    if key == "questions":
        return score_questions([], ctx)
    if key == "courtesy":
        return score_courtesy([], ctx)
    if key == "compliance":
        return item("compliance", 0, "", risk_spoken(ctx) or pb.disclosure)
    if key == "objections":
        return score_objections(turns, [], ctx) if any(t.objection for t in turns) else item(
            "objections", 0, "", objection_model("objection_busy", ctx))
    return item("next_step", 0, "", labelled(pb.interested, ctx))
