"""Role-play: the bot plays a scenario's fictional customer (issue 10, point 2).

A pure, deterministic customer simulator over the scenario data (``scenarios.yml``): no Rasa, no
database, no randomness except the seeded ``random.Random`` the caller passes in (it only picks
among equivalent lines, never what the customer decides). The rehearsal's state is an immutable
``Session``; ``reply`` is the one place it changes, returning a new session with the customer's
answer. The transcript is kept as ``turns.Turn`` objects, so ``finish`` scores it directly.

How the customer reacts to each trainee line, as bot.rehearsal.reading reads it (the trained move
model and the compliance module, the same reading the score card counts):

* first line: the scenario's ``opening_reaction``, which raises the first move's objection unless the
  scenario says it does not (``opening_raises: false``: "可以，什么事情？你说吧。" asks to hear the
  offer); a forbidden promise or pressure in the opening makes the customer cooler and costs patience;
* later lines:

  - after a do-not-call request, any selling or callback: immediate hang-up;
  - a forbidden promise, disparaging, a false fact or pressure: cooler, patience -1, says so and
    repeats the objection (hang-up when patience runs out; ``patience`` counts poor replies in a row);
  - a line the trainee has already said: "这话你刚才说过了", cooler, patience -1;
  - a goodbye before the objection is settled ends the call (abandoned);
  - while the customer waits to hear the offer: a line with a benefit or a purpose brings the first
    objection, anything else costs patience;
  - a line that answers the objection raised (a busy or hesitant customer: also a concrete time to
    call back; do-not-call: respecting it) settles the move: warmer, patience back, the next
    objection; after the last one the customer agrees (``agree_lines``, repeating the time offered;
    nobody agrees to a callback at a time never offered) and the call ends with ``success``;
  - anything else (a list of words, off topic, one word, no answer): patience -1 and the objection
    again in other words.

Customer turns carry the objection they raise (None for hang-up and agree lines), so the scoring
grades the trainee's next line against it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.playbook import playbook
from bot.rehearsal import scorers, scoring
from bot.rehearsal.cues import BENEFIT_CUE_RE, NEGATION_RE, PITCH_RE
from bot.rehearsal.model_lines import ScoringContext, context
from bot.rehearsal.reading import Reading, read
from bot.rehearsal.scenarios import Move, Scenario, scenario
from bot.rehearsal.scenarios import product as _product
from bot.rehearsal.scorers import Said
from bot.rehearsal.turns import CUSTOMER, SPEAKERS, TRAINEE, ScoreCard, Turn
from bot.settings import get_settings
from bot.text import normalize
from bot.timeparse import time_phrase

MOODS = ("calm", "neutral", "annoyed")  # warm to cool
STATUSES = ("opening", "in_call", "ended")
OUTCOMES = ("deal_step", "callback_agreed", "polite_end", "hung_up")
HUNG_UP = "hung_up"
# The trainee stopped (or started another scenario) before the customer ended the call.
ABANDONED = "abandoned"
START_MOOD = {"easy": "calm", "medium": "neutral", "hard": "neutral"}

# What the customer says when an objection has been handled well, before raising the next one.
ACKNOWLEDGEMENTS: dict[str, tuple[str, ...]] = {
    "objection_busy": ("嗯，行。", "那好吧。"),
    "objection_send_materials": ("好，我记下了。", "嗯，可以。"),
    "objection_trust": ("哦，这样我还放心点。", "嗯，那我回头自己核实一下。"),
    "customer_asks_purpose": ("哦，银行的啊。", "哦，这样啊。"),
    "objection_wrong_number": ("哦，可能是我记不清了。", "嗯，也许吧。"),
    "objection_referral_doubt": ("哦，这样啊，那倒没关系。", "嗯，行吧。"),
    "objection_hate_sales": ("呵，你倒挺实在，那你说吧。", "行，一分钟，你说。"),
    "objection_not_interested": ("嗯，这个听着倒还行。", "哦，这倒有点用。"),
    "objection_has_provider": ("嗯，这倒是不一样的地方。", "哦，多一个选择也行。"),
    "objection_price": ("嗯，这个价钱说得还算实在。", "哦，这样算下来还行。"),
    "objection_risk": ("嗯，你这么说我心里有数了。", "哦，说得挺实在的。"),
    "objection_already_customer": ("哦，那倒是还没有。", "嗯，这个确实还没弄。"),
    "objection_no_money": ("嗯，谢谢你体谅，那过段时间再说吧。", "行，到时候再聊。"),
    "objection_think_it_over": ("嗯，行。", "好吧。"),
}
DEFAULT_ACKNOWLEDGEMENTS = ("嗯，好吧。", "哦，这样啊。")
# An agree line may repeat the callback time the trainee proposed ({time} in scenarios.yml).
TIME_SLOT = "{time}"
# What a cooler customer says to a forbidden promise ({phrase}: the first one the trainee said).
FORBIDDEN_REACTIONS = (
    "“{phrase}”？银行哪有敢这么说的，你这话我可不信。",
    "{phrase}？说得这么好听，我反而更不放心了。",
)
# What a cooler customer says to pressure.
PUSHED_REACTIONS = (
    "你别催我，我不喜欢被人逼着做决定。",
    "你这么急，我反而不想听了。",
)
# What a customer says to a line the trainee has already said.
REPEATED_REACTIONS = ("这话你刚才说过了。", "你怎么老说这几句？")
# What a customer says to a line that says nothing (a list of words, off topic, one word).
HOLLOW_REACTIONS = ("你说什么？我没听明白。", "啊？你到底想说什么？")
# What a customer who has asked to hear the offer says when the trainee still says nothing about it.
WHAT_IS_IT = ("你到底要说什么事？", "说重点，什么产品？")
# A customer who was offered no time does not agree to a callback.
WHEN_THEN = ("那你到底什么时候打过来？", "你说个具体时间吧。")
# The trainee says goodbye before the customer's objection is settled: the customer hangs up too.
GOODBYES = ("好，再见。", "嗯，那先这样。")


class RehearsalOver(ValueError):
    """A line was said to a customer who has already ended the call."""


@dataclass(frozen=True)
class Session:
    scenario_id: str
    turns: tuple[Turn, ...] = ()
    move_index: int = 0  # the move (objection) the customer is on; len(moves) once all are settled
    patience: int = 0  # poor replies the customer still takes before hanging up
    mood: str = "neutral"  # calm / neutral / annoyed
    status: str = "opening"  # opening (trainee not yet spoken) / in_call / ended
    outcome: str | None = None  # None while the call goes on; deal_step / callback_agreed / polite_end / hung_up

    @property
    def scenario(self) -> Scenario:
        return scenario(self.scenario_id)

    @property
    def current_move(self) -> Move | None:
        moves = self.scenario.moves
        return moves[self.move_index] if self.status == "in_call" and self.move_index < len(moves) else None

    @property
    def ended(self) -> bool:
        return self.status == "ended"

    @property
    def succeeded(self) -> bool:
        return self.outcome is not None and self.outcome not in (HUNG_UP, ABANDONED)


    def to_json(self) -> dict:
        """Plain JSON (for the tracker's ``rehearsal`` slot); ``from_json`` reads it back."""
        return {
            "scenario_id": self.scenario_id,
            "turns": [[t.speaker, t.text, t.objection] for t in self.turns],
            "move_index": self.move_index, "patience": self.patience, "mood": self.mood,
            "status": self.status, "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, data: dict) -> Session:
        """The session ``to_json`` wrote; ValueError (or KeyError for an unknown scenario) if it is
        not one, so a damaged slot ends the rehearsal instead of confusing the customer."""
        if not isinstance(data, dict):
            raise ValueError("not a rehearsal session")
        turns = tuple(Turn(str(sp), str(text), obj) for sp, text, obj in data.get("turns") or ())
        moves = len(scenario(str(data["scenario_id"])).moves)
        ended = data.get("status") == "ended"
        if any(t.speaker not in SPEAKERS for t in turns) or data.get("mood") not in MOODS \
                or data.get("status") not in STATUSES or data.get("outcome") not in (None, *OUTCOMES) \
                or ended != (data.get("outcome") is not None) or ended \
                or not 0 <= int(data["move_index"]) < moves:
            # A running rehearsal is never "ended" in the slot: the action that ends it clears it.
            raise ValueError("not a rehearsal session")
        return cls(scenario_id=str(data["scenario_id"]), turns=turns, move_index=int(data["move_index"]),
                   patience=int(data["patience"]), mood=data["mood"], status=data["status"],
                   outcome=data.get("outcome"))


def start(scenario_id: str) -> Session:
    """A new rehearsal of the scenario ``scenario_id`` (KeyError if there is none); the trainee speaks first."""
    s = scenario(scenario_id)
    return Session(scenario_id=s.id, patience=s.patience, mood=START_MOOD.get(s.difficulty, "neutral"))


def _cooler(mood: str) -> str:
    return MOODS[min(MOODS.index(mood) + 1, len(MOODS) - 1)]


def _warmer(mood: str) -> str:
    return MOODS[max(MOODS.index(mood) - 1, 0)]


def _norm(text: str) -> str:
    return normalize(text or "").upper()


@lru_cache(maxsize=32)
def _pitch_words(code: str) -> tuple[str, ...]:
    """The product's names and selling-point fragments: saying any of them is selling it."""
    product = _product(code)
    words = [product["name"], *(product.get("aliases") or ())]
    for point in product.get("advantages") or ():
        words += [p for p in re.split(r"[，,。；;、：:！!？?\s（）()]+", point) if len(p) >= 3]
    return tuple(dict.fromkeys(_norm(w) for w in words if w))


def _sells(text: str, s: Scenario) -> bool:
    """Selling or booking a callback, in a clause that is not itself a promise to stop (as the
    scoring's "pitch after 勿扰" check reads it)."""
    words = _pitch_words(s.product)
    for clause in re.split(r"[。！!？?；;…，,：:\n]", text):
        if not clause.strip() or NEGATION_RE.search(clause):
            continue
        if PITCH_RE.search(clause) or BENEFIT_CUE_RE.search(clause):
            return True
        if any(word in clause for word in words):
            return True
    return False


def _other(rng: random.Random, lines: tuple[str, ...], last: str) -> str:
    """One of ``lines``, not the one the customer has just said if there is another."""
    fresh = tuple(line for line in lines if line not in last) or lines
    return rng.choice(fresh)


def _last_customer_line(session: Session) -> str:
    return next((t.text for t in reversed(session.turns) if t.speaker == CUSTOMER), "")


def _hang_up(session: Session, turns: tuple[Turn, ...], s: Scenario, rng: random.Random) -> tuple[Session, str]:
    line = rng.choice(s.hang_up_lines)
    new = replace(session, turns=turns + (Turn(CUSTOMER, line),), patience=0, mood="annoyed",
                  status="ended", outcome=HUNG_UP)
    return new, line


def _agreed_time(turns: tuple[Turn, ...]) -> str | None:
    """What an agreeing customer repeats: the time the trainee proposed last (None: no time offered)."""
    for turn in reversed(turns):
        if turn.speaker == TRAINEE and (phrase := time_phrase(normalize(turn.text or ""))):
            return phrase
    return None


def _settle(session: Session, turns: tuple[Turn, ...], s: Scenario, move: Move,
            rng: random.Random) -> tuple[Session, str]:
    index = session.move_index + 1
    mood = _warmer(session.mood)
    dnc = move.objection == playbook().do_not_call
    if dnc or index >= len(s.moves):
        agreed = _agreed_time(turns)
        lines = s.agree_lines if agreed else tuple(a for a in s.agree_lines if TIME_SLOT not in a)
        if not dnc and not lines:  # the customer agrees to a callback only at a time offered
            return _unsettled(session, turns, s, move, rng, _other(rng, WHEN_THEN, ""), cost=False)
        line = rng.choice(lines).replace(TIME_SLOT, agreed or "")
        outcome = "polite_end" if dnc else s.success
        new = replace(session, turns=turns + (Turn(CUSTOMER, line),), move_index=index, mood=mood,
                      patience=s.patience, status="ended", outcome=outcome)
        return new, line
    nxt = s.moves[index]
    line = rng.choice(ACKNOWLEDGEMENTS.get(move.objection, DEFAULT_ACKNOWLEDGEMENTS)) + rng.choice(nxt.says)
    new = replace(session, turns=turns + (Turn(CUSTOMER, line, nxt.objection),), move_index=index, mood=mood,
                  patience=s.patience)
    return new, line


def _unsettled(session: Session, turns: tuple[Turn, ...], s: Scenario, move: Move | None, rng: random.Random,
               reaction: str = "", *, cost: bool = True, cooler: bool = False) -> tuple[Session, str]:
    """The customer is not won over: patience -1 (``cost``) and hang-up when it runs out, else
    ``reaction`` and the objection again in other words (or, before the first objection, a question
    about the offer)."""
    patience = session.patience - 1 if cost else session.patience
    if patience <= 0:
        return _hang_up(session, turns, s, rng)
    last = _last_customer_line(session)
    again = _other(rng, move.says, last) if move is not None else _other(rng, WHAT_IS_IT, last)
    line = again if reaction and reaction in again else reaction + again
    objection = move.objection if move is not None else None
    new = replace(session, turns=turns + (Turn(CUSTOMER, line, objection),), patience=patience,
                  mood=_cooler(session.mood) if cooler else session.mood)
    return new, line


def _alarmed(s: Scenario, r: Reading) -> bool:
    """The persona alert to exaggeration heard a promise or a false fact: they hang up at once."""
    return s.persona.alarmed_by_exaggeration and bool(r.forbidden or r.moves & {"promise", "false_fact"})


def _offended(session: Session, turns: tuple[Turn, ...], s: Scenario, move: Move | None, r: Reading,
              rng: random.Random) -> tuple[Session, str]:
    if _alarmed(s, r):
        return _hang_up(session, turns, s, rng)
    return _unsettled(session, turns, s, move, rng, _reaction(r, rng), cooler=True)


def _reaction(r: Reading, rng: random.Random) -> str:
    """What an offended customer says first: the claim they do not believe, by its words, or that
    they feel pushed."""
    return rng.choice(FORBIDDEN_REACTIONS).format(phrase=r.claims[0]) if r.claims else rng.choice(PUSHED_REACTIONS)


@lru_cache(maxsize=32)
def _context(scenario_id: str, bank: str) -> ScoringContext:
    facts = _product_facts_of(scenario(scenario_id).product)
    return context(bank, facts["product_name"], facts["product_is_wealth"], facts["selling_points"],
                   facts["risk_level"])


def _settles(move: Move, said: Said, ctx: ScoringContext) -> bool:
    """Whether the trainee's line handles ``move``'s objection, exactly as the score card judges it."""
    return scorers.answer(said, move.objection, ctx)[0] > 0


def _opening(session: Session, turns: tuple[Turn, ...], s: Scenario, r: Reading,
             rng: random.Random) -> tuple[Session, str]:
    raised = s.moves[0].objection if s.opening_raises else None
    if not r.offends:
        new = replace(session, turns=turns + (Turn(CUSTOMER, s.opening_reaction, raised),), status="in_call")
        return new, s.opening_reaction
    patience = session.patience - 1
    if patience <= 0 or _alarmed(s, r):
        return _hang_up(session, turns, s, rng)
    line = _reaction(r, rng) + s.opening_reaction
    new = replace(session, turns=turns + (Turn(CUSTOMER, line, raised),), patience=patience,
                  mood=_cooler(session.mood), status="in_call")
    return new, line


def reply(session: Session, trainee_line: str, rng: random.Random, *, bank: str | None = None) -> tuple[Session, str]:
    """The customer's answer, in character, to ``trainee_line``, and the session after it (``bank``:
    the trainee's bank, by default the configured one).

    ``session`` is left as it was; RehearsalOver if the customer has already ended the call."""
    if session.ended:
        raise RehearsalOver(f"the rehearsal of {session.scenario_id} has ended ({session.outcome})")
    s = session.scenario
    earlier = [t.text for t in session.turns if t.speaker == TRAINEE]
    turns = session.turns + (Turn(TRAINEE, trainee_line or ""),)
    category = _product(s.product).get("category")
    facts = _product_facts_of(s.product)["selling_points"]
    if session.status == "opening":
        return _opening(session, turns, s, read(trainee_line, None, earlier, category, facts=facts), rng)

    move = s.moves[session.move_index]
    raised = next((t.objection for t in reversed(session.turns) if t.speaker == CUSTOMER), None)
    r = read(trainee_line, raised, earlier, category, _last_customer_line(session), facts)
    said = Said(len(turns), normalize(trainee_line or "").upper(), raised, r)
    ctx = _context(s.id, bank or get_settings().bank_name)
    dnc = playbook().do_not_call
    dnc_raised = any(t.speaker == CUSTOMER and t.objection == dnc for t in session.turns)
    if dnc_raised and _sells(_norm(trainee_line), s):
        return _hang_up(session, turns, s, rng)
    pending = move if raised is not None else None  # None: the customer asked to hear the offer first
    if r.offends:
        return _offended(session, turns, s, pending, r, rng)
    if r.repeats is not None:
        return _unsettled(session, turns, s, pending, rng, rng.choice(REPEATED_REACTIONS), cooler=True)
    if "close" in r.moves and not _settles(move, said, ctx):
        line = rng.choice(GOODBYES)  # a goodbye ends the call, whether the customer was won or not
        new = replace(session, turns=turns + (Turn(CUSTOMER, line),), status="ended", outcome=ABANDONED)
        return new, line
    if pending is None:
        if r.hollow or not (r.does("benefit") or r.does("purpose")):
            return _unsettled(session, turns, s, None, rng, rng.choice(HOLLOW_REACTIONS) if r.hollow else "")
        line = rng.choice(move.says)  # heard the offer: now the first objection
        new = replace(session, turns=turns + (Turn(CUSTOMER, line, move.objection),))
        return new, line
    if _settles(move, said, ctx):
        return _settle(session, turns, s, move, rng)
    return _unsettled(session, turns, s, move, rng, rng.choice(HOLLOW_REACTIONS) if r.hollow else "")


def _product_facts(session: Session) -> dict:
    return _product_facts_of(session.scenario.product)


def _product_facts_of(code: str) -> dict:
    product = _product(code)
    return {
        "product_name": product["name"],
        "product_is_wealth": product.get("category") == "wealth",
        "selling_points": tuple(product.get("advantages") or ()),
        "risk_level": product.get("risk_level"),
    }


def finish(session: Session, *, bank: str) -> ScoreCard:
    """The score card of the rehearsal so far (usually after it ended), for the scenario's product;
    a call the customer did not end counts as abandoned."""
    progress = min(session.move_index, len(session.scenario.moves)) / len(session.scenario.moves)
    return scoring.score(list(session.turns), bank=bank, outcome=session.outcome or ABANDONED, progress=progress,
                         **_product_facts(session))


def transcript(session: Session, *, bank: str) -> list[dict]:
    """The rehearsal's lines as kept with its record: speaker, text, the objection a customer line
    raises, and what each trainee line does (scoring.line_functions)."""
    functions = scoring.line_functions(session.turns, bank=bank, **_product_facts(session))
    return [{"speaker": t.speaker, "text": t.text, "objection": t.objection, "functions": list(f)}
            for t, f in zip(session.turns, functions, strict=True)]
