"""A rehearsal's transcript and its score card: plain data shared by the role-play and the scoring."""

from __future__ import annotations

from dataclasses import dataclass

from bot.rehearsal.rubric import rubric

TRAINEE = "trainee"
CUSTOMER = "customer"
SPEAKERS = (TRAINEE, CUSTOMER)


@dataclass(frozen=True)
class Turn:
    speaker: str  # "trainee" or "customer"
    text: str
    objection: str | None = None  # on customer turns: the objection intent raised (contract names)


@dataclass(frozen=True)
class ItemScore:
    key: str
    title: str
    points: int
    max_points: int
    feedback: str
    model_line: str | None
    # The item's yes/no checks, so a half-met criterion is visible: {"label", "ok", "where"}: where,
    # the line that met it (第3句) or why it was not met.
    checks: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True)
class ScoreCard:
    total: int
    items: tuple[ItemScore, ...]
    flags: tuple[str, ...]  # forbidden phrases found, by name (and 勿扰后继续推销)
    ending: str | None = None  # why the total is capped by how the call ended (客户挂断 ...), if it is
    ending_cap: int | None = None  # the most such a call could score

    def readable(self) -> str:
        """The score card in Chinese, every item with its points, feedback and model line."""
        card = rubric().card
        lines = [card["total"].format(total=self.total)]
        if self.flags:
            lines.append(card["flags"].format(flags="、".join(self.flags), cap=rubric().cap))
        if self.ending:
            lines.append(card["ending"].format(ending=self.ending, cap=self.ending_cap))
        for number, item in enumerate(self.items, 1):
            mark = card["full_mark"] if item.points == item.max_points else card["missed_mark"]
            lines.append(card["item"].format(number=number, title=item.title, points=item.points,
                                             max_points=item.max_points, mark=mark))
            for check in item.checks:
                form = card["check_ok"] if check["ok"] else card["check_missed"]
                lines.append(form.format(label=check["label"], where=check["where"]))
            lines.append(card["feedback"].format(feedback=item.feedback))
            if item.model_line:
                model = item.model_line.replace("\n", "\n     ")
                lines.append(card["model"].format(model=model))
        return "\n".join(lines)
