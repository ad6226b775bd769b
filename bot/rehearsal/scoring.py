"""Scoring a rehearsal: a deterministic, explainable rubric over the transcript (issue 10, point 3).

Pure logic over plain data (no Rasa, no database): the role-play hands over the transcript as
``Turn`` objects and gets a ``ScoreCard`` back. The same transcript always gives the same card.
The cues are derived from the playbook (bot/playbook/openings.yml, objections.yml, compliance.yml)
and the seed script book (../shared/seeds/001: 30秒原则; 三个卖点每次只说一个，然后问"您听着怎么样";
how to answer each refusal). Every miss carries the playbook's model line, rendered by
bot/guidance's template filler with this rehearsal's values.

Where things are: the transcript types in ``turns``; the text cues (shared with the role-play) in
``cues``; the rubric as data in ``rubric.yml`` (weights, points, feedback, objection cues), loaded
by ``rubric``; the model lines in ``model_lines``; one scorer per item in ``scorers``.

Rubric (0-100), item weights:

====================  ======  ==========================================================
item (key)            points  what earns them
====================  ======  ==========================================================
opening               20      first trainee line, the 30-second rule: who I am (我是/我叫 + a
                              name or an agent word) 3 + the bank's name 3, why I call 5, what it does for the
                              client (a selling point, or 好处/优势/亮点 with content) 5,
                              ends with a question or asks permission 4
questions             15      every line that presents a benefit ends with a question
                              (您听着怎么样/您觉得/吗/？) 10, pro rata; one selling point at a
                              time (no line with 3+ benefits) 5
objections            25      for each objection the customer raised, the trainee's next line
                              uses the playbook technique for it (objection_cues in rubric.yml,
                              pro rata; a don't, such as disparaging another bank or promising
                              on risk, voids that answer). No objection raised: full points.
                              Any pitch or callback after the customer asked not to be called
                              again: 0 for the whole item
next_step             10      the trainee's last two lines propose a concrete next step
                              (办理方式、带身份证、手机银行申请、约时间、几点回电) 10; only a vague
                              one (有需要再联系) 5. After 勿扰: ending politely without selling
                              is the right ending (10)
courtesy              10      addresses the customer as 您 3, polite words (请/谢谢/不好意思/
                              抱歉/打扰...) 4 (two kinds) or 2 (one kind), no rude words 3;
                              each rude phrase (你懂不懂/爱买不买/烦不烦...) costs 5 more
compliance            20      wealth product: the disclosure said at least once (理财非存款 4,
                              产品有风险 4, 投资须谨慎 4) and the risk level (风险等级/R1-R5) 4;
                              other products: these 16 are not required and given. No forbidden
                              phrase 4. Any forbidden phrase: 0 for the whole item
====================  ======  ==========================================================

Caps: any forbidden promise (bot.compliance.findings) said by the trainee is flagged by name
and caps the total at 40; pitching after the customer asked not to be called again (勿扰后继续推销)
is flagged and caps the total at 40 as well, and so is a percentage above every one the product's
facts state (返现百分之八 where the CRM says 最高百分之三: a false fact). Feedback names lines by
their place in the whole transcript (第3句 = the third turn, customer turns included).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.rehearsal import scorers
from bot.rehearsal.model_lines import context
from bot.rehearsal.reading import read
from bot.rehearsal.rubric import rubric
from bot.rehearsal.scorers import Said, norm
from bot.rehearsal.turns import SPEAKERS, TRAINEE, ScoreCard, Turn

# What a trainee line does, in the order the transcript shows the tags (labels.yml line_functions).
LINE_FUNCTIONS = ("identity", "purpose", "benefit", "question", "technique", "promise", "pressure", "repeat",
                  "hollow")


def said_lines(turns: Sequence[Turn], *, wealth: bool, facts: tuple[str, ...] = ()) -> list[Said]:
    """The trainee's lines, each with its place in the transcript (1-based), its normalised text, the
    objection it answers (the customer's last words) and its reading (bot.rehearsal.reading; ``facts``:
    the product's selling points, which bound the figures a line may state)."""
    out: list[Said] = []
    pending: str | None = None
    heard = ""
    earlier: list[str] = []
    category = "wealth" if wealth else None
    for index, turn in enumerate(turns, 1):
        if turn.speaker != TRAINEE:
            pending, heard = turn.objection, turn.text or ""
            continue
        out.append(Said(index, norm(turn), pending, read(turn.text or "", pending, earlier, category, heard, facts)))
        heard = ""
        earlier.append(turn.text or "")
        pending = None
    return out


def line_functions(turns: Sequence[Turn], *, bank: str, product_name: str, product_is_wealth: bool,
                   selling_points: tuple[str, ...] = (), risk_level: str | None = None) -> list[tuple[str, ...]]:
    """Per turn, what the trainee's line does (customer turns: ``()``), as the score card reads it:
    says who is calling, why, a benefit, asks, answers the objection just raised (technique), makes a
    forbidden or reckless promise, pressures, repeats an earlier line, or says nothing usable. This is
    how a rehearsal reads every message: as a line said to the customer, never as a request to the
    assistant."""
    by_turn = {said.place: said for said in said_lines(turns, wealth=product_is_wealth, facts=selling_points)}
    result: list[tuple[str, ...]] = []
    for index, _turn in enumerate(turns, 1):
        said = by_turn.get(index)
        if said is None:
            result.append(())
            continue
        r = said.reading
        found = {
            "identity": r.does("identity"), "purpose": r.does("purpose"), "benefit": r.does("benefit"),
            "question": r.does("question"), "technique": said.objection is not None and r.answers,
            "promise": bool(r.forbidden) or "promise" in r.moves or "false_fact" in r.moves,
            "pressure": r.pressure, "repeat": r.repeats is not None,
            "hollow": r.hollow and r.repeats is None,
        }
        result.append(tuple(key for key in LINE_FUNCTIONS if found[key]))
    return result


def score(turns: list[Turn], *, bank: str, product_name: str, product_is_wealth: bool,
          selling_points: tuple[str, ...] = (), risk_level: str | None = None,
          outcome: str | None = None, progress: float = 0.0) -> ScoreCard:
    """The score card of a rehearsal transcript (deterministic: same transcript, same card).

    ``outcome``: how the simulated call ended (roleplay OUTCOMES or abandoned); None when the
    transcript was not played through the simulator (no outcome cap then). ``progress``: the share
    of the customer's objections settled before a call that did not end well ended."""
    for turn in turns:
        if turn.speaker not in SPEAKERS:
            raise ValueError(f"unknown speaker {turn.speaker!r}: expected one of {SPEAKERS}")
    r = rubric()
    ctx = context(bank, product_name, product_is_wealth, selling_points, risk_level)
    trainee = said_lines(turns, wealth=product_is_wealth, facts=selling_points)
    forbidden = list(dict.fromkeys(phrase for said in trainee for phrase in said.reading.forbidden))
    if not trainee:
        items = tuple(
            scorers.item(key, 0, r.card["silent"], model.model_line or model.feedback)
            for key, model in ((k, scorers.empty_model(k, turns, ctx)) for k in r.weights)
        )
        return ScoreCard(0, items, ())
    # Courtesy and compliance are earned by the lines that say something: a polite, compliant word
    # list or a paragraph pasted for every objection earns them only for what it really said.
    substance = scorers.substance(trainee)
    items = (
        scorers.score_opening(trainee, ctx),
        scorers.score_questions(trainee, ctx),
        scorers.score_objections(turns, trainee, ctx, outcome),
        scorers.score_next_step(turns, trainee, ctx, outcome),
        scorers.scaled(scorers.score_courtesy(trainee, ctx), substance),
        scorers.scaled(scorers.score_compliance(trainee, ctx, forbidden), substance),
    )
    invented = dict.fromkeys(r.invented_flag.format(phrase=p) for said in trainee for p in said.reading.invented)
    flags = tuple(forbidden) + tuple(invented) + ((r.dnc_flag,) if scorers.dnc_pitches(turns, ctx) else ())
    total = sum(item.points for item in items)
    if flags:
        total = min(total, r.cap)
    ending = r.unfinished.get(outcome or "")
    cap = None
    if ending:  # a hang-up or an abandoned call cannot pass; how far it got decides how far below
        cap = round(r.unfinished_floor + (r.unfinished_cap - r.unfinished_floor) * min(max(progress, 0.0), 1.0))
        total = min(total, cap)
    return ScoreCard(total, items, flags, ending, cap)
