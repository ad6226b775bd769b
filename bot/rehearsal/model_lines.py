"""The playbook's model lines in a score card, rendered by bot/guidance's one template filler with
this rehearsal's values (title 您, agent 坐席, the bank, the product, its first selling point ...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from bot.guidance.filling import fill_template, placeholder_values, with_risk_disclosure
from bot.playbook import Technique, playbook
from bot.rehearsal.cues import CueContext, chunks
from bot.rehearsal.rubric import answer_result, rubric
from bot.text import normalize


@dataclass(frozen=True)
class ScoringContext(CueContext):
    """The cues' context plus the values the model lines are filled with."""

    values: dict[str, str] = field(default_factory=dict)


def model_values(bank: str, product: str, selling_points: tuple[str, ...], risk_level: str | None) -> dict[str, str]:
    """The placeholders' values for this rehearsal: no client, so the playbook's defaults, except
    what the rubric gives explicitly (rubric.yml ``model_values``: 坐席, 一个小时后, ...) and the
    product's own facts."""
    given = rubric().model_values
    advantage = selling_points[0] if selling_points else given["advantage"]
    values = placeholder_values(bank=bank, agent=given["agent"], hotline=given["hotline"], profile=None, product=None)
    values.update(
        product=product,
        advantage=advantage,
        # The model lines state the product's own level; without one, they point to the product sheet.
        risk_level=risk_level or given["risk_level"],
        callback_time=given["callback_time"],
        comparison=selling_points[1] if len(selling_points) > 1 else advantage,
    )
    return values


def context(bank: str, product_name: str, product_is_wealth: bool, selling_points: Sequence[str],
            risk_level: str | None = None) -> ScoringContext:
    return ScoringContext(
        bank=normalize(bank).upper(),
        product=normalize(product_name).upper(),
        wealth=product_is_wealth,
        selling_points=tuple(c for c in (chunks(p) for p in selling_points) if c),
        risk_level=risk_level,
        values=model_values(bank, product_name, tuple(selling_points), risk_level),
    )


def _spoken(line: str, ctx: ScoringContext) -> str:
    """As in live guidance: a wealth product is never presented without its risk level and the disclosure."""
    if not ctx.wealth or ctx.values["product"] not in line:
        return line
    return with_risk_disclosure(line, ctx.values["product"], ctx.values["risk_level"])


def model(technique: Technique, ctx: ScoringContext, check: Callable[[str], bool] | None = None) -> str:
    """The first template of ``technique`` (that passes ``check``), rendered for this rehearsal."""
    lines = [fill_template(t, ctx.values) for t in technique.templates]
    line = next((x for x in lines if check is None or check(normalize(x))), lines[0])
    return _spoken(line, ctx)


def labelled(technique: Technique, ctx: ScoringContext) -> str:
    """``model`` with the technique's name in front: 【客户有意向】..."""
    return f"【{technique.name}】{model(technique, ctx)}"


def risk_spoken(ctx: ScoringContext) -> str:
    """The risk notice for the rehearsal's product (messages.yml ``risk_spoken``)."""
    return fill_template(playbook().messages.get("risk_spoken", ""), ctx.values)


def objection_technique(intent: str, ctx: ScoringContext) -> Technique | None:
    pb = playbook()
    if intent == "objection_risk" and not ctx.wealth:
        return pb.risk_no_level
    return pb.objections.get(intent)


def relative_time(after: timedelta) -> str:
    """How long until an objection's callback, said without a date ("一个小时后", "明天", "一个月后"):
    a model line holds for any day it is read on."""
    days, hours = after.days, after.seconds // 3600
    if days >= 28:
        return f"{_count(round(days / 30))}个月后"
    if days >= 7 and days % 7 == 0:
        return f"{_count(days // 7)}周后"
    if days in (1, 2):
        return "明天" if days == 1 else "后天"
    if days:
        return f"{_count(days)}天后"
    return f"{_count(max(1, hours))}个小时后"


def _count(n: int) -> str:
    return {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六"}.get(n, str(n))


def objection_model(intent: str, ctx: ScoringContext) -> str | None:
    """The playbook's answer to ``intent``: its first template that the rubric would pass."""
    technique = objection_technique(intent, ctx)
    if technique is None:
        return None
    after = playbook().callback_objections.get(intent)
    if after is not None:
        # The callback time this objection books (a month for 手头紧, an hour for 在忙).
        ctx = replace(ctx, values={**ctx.values, "callback_time": relative_time(after)})

    def passes(line: str) -> bool:
        return answer_result(intent, line, ctx)[0] == 1.0

    return f"【{technique.name}】{model(technique, ctx, passes)}"


def pitch_technique() -> Technique:
    pb = playbook()
    follow_up = pb.opening_follow_ups.get("self_intro", {}).get("customer_asks_purpose")
    if follow_up:
        return follow_up
    fallback = rubric().pitch_fallback
    return Technique("pitch", fallback["name"], "", (fallback["template"] + pb.messages["ask_feeling"],))
