"""Role-play: the bot plays a scenario's fictional customer (issue 10, point 2).

A pure, deterministic customer simulator over the scenario data (``scenarios.yml``): no Rasa, no
database, no randomness except the seeded ``random.Random`` the caller passes in (it only picks
among equivalent lines, never what the customer decides). The rehearsal's state is an immutable
``Session``; ``reply`` is the one place it changes, returning a new session with the customer's
answer. The transcript is kept as ``turns.Turn`` objects, so ``finish`` scores it directly.

How the customer reacts to each trainee line:

* first line: the scenario's ``opening_reaction``; the first move's objection starts (a forbidden
  promise in the opening already makes the customer cooler and costs patience);
* later lines are judged against the current move, on the normalised line (Traditional Chinese
  and full-width input are accepted):

  - the customer asked not to be called again (``objection_do_not_call``) and the trainee still
    sells or books a callback: immediate hang-up;
  - a forbidden promise (bot.compliance.findings: a promise, or disparaging; pressure found there
    counts as a push) or one of the move's ``escalates_on`` cues:
    the customer gets cooler (calm -> neutral -> annoyed), patience -1, and says so, then repeats
    the objection; when patience runs out they say a ``hang_up_lines`` line and hang up;
  - one of the move's ``calmed_by`` cues: the move is settled, the customer warms up one step,
    patience is back to the scenario's (``patience`` counts poor replies *in a row*, as the
    scenario file says), acknowledges and raises the next move's objection (one of its ``says``);
    after the last move they say an ``agree_lines`` line and the call ends with the scenario's
    ``success`` outcome (a settled do-not-call move always ends politely: ``polite_end``);
  - neither: patience -1 and the customer repeats the objection in other words (another of the
    move's ``says``), or hangs up when patience runs out.

Customer turns carry the objection they raise (None for hang-up and agree lines), so the scoring
grades the trainee's next line against it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.compliance import REHEARSAL_LEARNED, findings
from bot.playbook import playbook
from bot.rehearsal import scoring
from bot.rehearsal.cues import BENEFIT_CUE_RE, NEGATION_RE, PITCH_RE
from bot.rehearsal.scenarios import Move, Scenario, scenario
from bot.rehearsal.scenarios import product as _product
from bot.rehearsal.turns import CUSTOMER, SPEAKERS, TRAINEE, ScoreCard, Turn
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
DEFAULT_TIME = "晚点"
# What a cooler customer says to a forbidden promise ({phrase}: the first one the trainee said).
FORBIDDEN_REACTIONS = (
    "“{phrase}”？银行哪有敢这么说的，你这话我可不信。",
    "{phrase}？说得这么好听，我反而更不放心了。",
)
# What a cooler customer says to pressure (one of the move's escalates_on cues).
PUSHED_REACTIONS = (
    "你别催我，我不喜欢被人逼着做决定。",
    "你这么急，我反而不想听了。",
)


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
        return self.outcome is not None and self.outcome != HUNG_UP


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


def _has_cue(text: str, cues: tuple[str, ...]) -> bool:
    return any(_norm(cue) in text for cue in cues if cue)


@lru_cache(maxsize=32)
def _pitch_words(code: str) -> tuple[str, ...]:
    """The product's names and selling-point fragments: saying any of them is selling it."""
    product = _product(code)
    words = [product["name"], *(product.get("aliases") or ())]
    for point in product.get("advantages") or ():
        words += [p for p in re.split(r"[，,。；;、：:！!？?\s（）()]+", point) if len(p) >= 3]
    return tuple(dict.fromkeys(_norm(w) for w in words if w))


def _sells(text: str, s: Scenario, move: Move | None) -> bool:
    """Selling or booking a callback, in a clause that is not itself a promise to stop (as the
    scoring's "pitch after 勿扰" check reads it)."""
    words = _pitch_words(s.product)
    for clause in re.split(r"[。！!？?；;…，,：:\n]", text):
        if not clause.strip() or NEGATION_RE.search(clause):
            continue
        if move is not None and _has_cue(clause, move.escalates_on):
            return True
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


def _agreed_time(turns: tuple[Turn, ...]) -> str:
    """What an agreeing customer repeats: the time the trainee proposed last, else "晚点"."""
    for turn in reversed(turns):
        if turn.speaker == TRAINEE and (phrase := time_phrase(normalize(turn.text or ""))):
            return phrase
    return DEFAULT_TIME


def _settle(session: Session, turns: tuple[Turn, ...], s: Scenario, move: Move,
            rng: random.Random) -> tuple[Session, str]:
    index = session.move_index + 1
    mood = _warmer(session.mood)
    dnc = move.objection == playbook().do_not_call
    if dnc or index >= len(s.moves):
        line = rng.choice(s.agree_lines).replace(TIME_SLOT, _agreed_time(turns))
        outcome = "polite_end" if dnc else s.success
        new = replace(session, turns=turns + (Turn(CUSTOMER, line),), move_index=index, mood=mood,
                      patience=s.patience, status="ended", outcome=outcome)
        return new, line
    nxt = s.moves[index]
    line = rng.choice(ACKNOWLEDGEMENTS.get(move.objection, DEFAULT_ACKNOWLEDGEMENTS)) + rng.choice(nxt.says)
    new = replace(session, turns=turns + (Turn(CUSTOMER, line, nxt.objection),), move_index=index, mood=mood,
                  patience=s.patience)
    return new, line


def _compliance(text: str, s: Scenario) -> tuple[list[str], bool]:
    """What the compliance module finds in a trainee line about the scenario's product: the words of
    each forbidden promise (or disparaging remark), and whether it pressed the customer."""
    said = findings(text, _product(s.product).get("category"), learned=REHEARSAL_LEARNED)
    return list(dict.fromkeys(f.phrase for f in said if f.kind != "pressure")), any(f.kind == "pressure" for f in said)


def _opening(session: Session, turns: tuple[Turn, ...], s: Scenario, text: str,
             rng: random.Random) -> tuple[Session, str]:
    first = s.moves[0]
    forbidden, _pressure = _compliance(text, s)
    if not forbidden:
        new = replace(session, turns=turns + (Turn(CUSTOMER, s.opening_reaction, first.objection),),
                      status="in_call")
        return new, s.opening_reaction
    patience = session.patience - 1
    if patience <= 0:
        return _hang_up(session, turns, s, rng)
    line = rng.choice(FORBIDDEN_REACTIONS).format(phrase=forbidden[0]) + s.opening_reaction
    new = replace(session, turns=turns + (Turn(CUSTOMER, line, first.objection),), patience=patience,
                  mood=_cooler(session.mood), status="in_call")
    return new, line


def reply(session: Session, trainee_line: str, rng: random.Random) -> tuple[Session, str]:
    """The customer's answer, in character, to ``trainee_line``, and the session after it.

    ``session`` is left as it was; RehearsalOver if the customer has already ended the call."""
    if session.ended:
        raise RehearsalOver(f"the rehearsal of {session.scenario_id} has ended ({session.outcome})")
    s = session.scenario
    text = _norm(trainee_line)
    turns = session.turns + (Turn(TRAINEE, trainee_line or ""),)
    if session.status == "opening":
        return _opening(session, turns, s, text, rng)

    move = s.moves[session.move_index]
    last = _last_customer_line(session)
    dnc = playbook().do_not_call
    dnc_raised = any(t.speaker == CUSTOMER and t.objection == dnc for t in session.turns)
    if dnc_raised and _sells(text, s, move if move.objection == dnc else None):
        return _hang_up(session, turns, s, rng)

    forbidden, pressure = _compliance(text, s)
    # After 勿扰 the selling cues were judged above, clause by clause (a promise to stop is no push).
    pushed = move.objection != dnc and (pressure or _has_cue(text, move.escalates_on))
    if forbidden or pushed:
        patience = session.patience - 1
        if patience <= 0:
            return _hang_up(session, turns, s, rng)
        if forbidden:
            reaction = rng.choice(FORBIDDEN_REACTIONS).format(phrase=forbidden[0])
        else:
            reaction = rng.choice(PUSHED_REACTIONS)
        line = reaction + _other(rng, move.says, last)
        new = replace(session, turns=turns + (Turn(CUSTOMER, line, move.objection),), patience=patience,
                      mood=_cooler(session.mood))
        return new, line

    if _has_cue(text, move.calmed_by):
        return _settle(session, turns, s, move, rng)

    patience = session.patience - 1
    if patience <= 0:
        return _hang_up(session, turns, s, rng)
    line = _other(rng, move.says, last)
    new = replace(session, turns=turns + (Turn(CUSTOMER, line, move.objection),), patience=patience)
    return new, line


def _product_facts(session: Session) -> dict:
    product = _product(session.scenario.product)
    return {
        "product_name": product["name"],
        "product_is_wealth": product.get("category") == "wealth",
        "selling_points": tuple(product.get("advantages") or ()),
        "risk_level": product.get("risk_level"),
    }


def finish(session: Session, *, bank: str) -> ScoreCard:
    """The score card of the rehearsal so far (usually after it ended), for the scenario's product."""
    return scoring.score(list(session.turns), bank=bank, **_product_facts(session))


def transcript(session: Session, *, bank: str) -> list[dict]:
    """The rehearsal's lines as kept with its record: speaker, text, the objection a customer line
    raises, and what each trainee line does (scoring.line_functions)."""
    functions = scoring.line_functions(session.turns, bank=bank, **_product_facts(session))
    return [{"speaker": t.speaker, "text": t.text, "objection": t.objection, "functions": list(f)}
            for t, f in zip(session.turns, functions, strict=True)]
