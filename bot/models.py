"""CRM tables (SQLAlchemy 1.4, declarative with Column; 2.0-style queries elsewhere)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from bot import clock, labels

# Deterministic constraint names keep Alembic migrations portable across databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)

ROLES = ("agent", "trainee", "supervisor")
STAGES = ("unknown", "general", "potential", "deal", "loyal")
STAGE_LABELS = labels.stages()  # the text lives in bot/playbook/labels.yml
DISPOSITIONS = (
    "deal",
    "interested",
    "callback",
    "thinking",
    "refused",
    "no_answer",
    "invalid_number",
    "do_not_call",
)
DISPOSITION_LABELS = labels.dispositions()  # the text lives in bot/playbook/labels.yml
CATEGORIES = ("card", "wealth", "deposit", "loan", "corporate", "channel")
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
# A client's assessed risk tolerance; C1 may buy R1 products, C5 up to R5 (seed 000: suitability).
RISK_TOLERANCES = ("C1", "C2", "C3", "C4", "C5")
# How the bank obtained a client's contact: what the agent may truthfully say when asked.
CONTACT_SOURCES = ("existing_customer", "referral", "branch_visit", "event_signup", "payroll_employer",
                   "online_application", "corporate_contact")
FOLLOWUP_STATUSES = ("open", "done", "cancelled")
COMPLAINT_STATUSES = ("open", "resolved")
DISPUTE_STATUSES = ("open", "accepted", "rejected")
# What a follow-up promised the customer: a call at a time the customer agreed, a call back after an
# objection (busy, thinking it over), material to send first, or nothing (the agent's own plan).
# None on rows booked before migration 0013.
FOLLOWUP_PROMISES = ("agreed_time", "call_back", "send_material", "planned")
# What the change log records (bot.models.Change.kind).
CHANGE_KINDS = ("import", "edit", "assign", "unassign", "account", "product", "do_not_call", "floor", "learning")


def _now() -> datetime:
    return clock.now()


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    login = Column(String(64), nullable=False, unique=True)
    name = Column(String(64), nullable=False)
    role = Column(String(16), nullable=False)
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    # Part of every session and token; bumping it revokes them all (logout, deactivation).
    token_version = Column(Integer, nullable=False, default=0, server_default="0")
    # Created or reset by a supervisor with a one-time password: the user must choose their own at login.
    must_change_password = Column(Boolean, nullable=False, default=False, server_default="0")
    # Wrong passwords typed for this login since its last successful login: told to the user then.
    failed_logins = Column(Integer, nullable=False, default=0, server_default="0")
    created_at = Column(DateTime, nullable=False, default=_now)


class Client(Base):
    __tablename__ = "clients"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, index=True)
    phone = Column(String(32), nullable=False, unique=True)
    gender = Column(String(8))
    age = Column(Integer)
    occupation = Column(String(128))
    company = Column(String(128))
    annual_income = Column(Numeric(16, 2, asdecimal=False))
    assets = Column(Numeric(16, 2, asdecimal=False))
    card_spend_per_year = Column(Numeric(16, 2, asdecimal=False))
    # Contribution to the bank (seed 000 grading); None = not known, never 0.
    deposits = Column(Numeric(16, 2, asdecimal=False))
    loan_balance = Column(Numeric(16, 2, asdecimal=False))
    contact_source = Column(String(32))
    contact_detail = Column(String(128))  # who referred, which event or employer
    risk_tolerance = Column(String(2))  # C1-C5 from the last assessment; None = never assessed
    risk_assessed_at = Column(DateTime)
    stage = Column(String(16), nullable=False, default="unknown")
    do_not_call = Column(Boolean, nullable=False, default=False)
    agent_id = Column(Integer, ForeignKey("users.id"), index=True)
    referrer = Column(String(64))
    note = Column(Text)
    # The bank's own client number (客户号) from an imported sheet: re-imports match on it, else on phone.
    client_no = Column(String(32), unique=True)
    birth_date = Column(Date)  # the age is kept in step with it where it is known
    # 是否同意营销: True/False as the client told the bank; None = never asked (no birthday calls).
    marketing_consent = Column(Boolean)
    dnc_source = Column(String(128))  # where a do-not-call mark came from (the bank's opt-out register, a call)
    assigned_at = Column(DateTime)  # when the current agent got the client (newly assigned prospects)
    created_at = Column(DateTime, nullable=False, default=_now)
    updated_at = Column(DateTime, nullable=False, default=_now, onupdate=_now)

    agent = relationship("User", lazy="joined")
    holdings = relationship("Holding", back_populates="client", cascade="all, delete-orphan")


class Product(Base):
    __tablename__ = "products"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    name = Column(String(64), nullable=False, unique=True)
    category = Column(String(16), nullable=False)
    risk_level = Column(String(2))
    min_amount = Column(Numeric(16, 2, asdecimal=False), nullable=False, default=0)
    aliases = Column(JSON, nullable=False, default=list)
    comparison = Column(Text)
    target = Column(Text)
    # Facts the answers may state (ranges, "以我行公布为准"): price/fees/rates, who may apply, how.
    pricing = Column(Text)
    eligibility = Column(Text)
    signup = Column(Text)
    active = Column(Boolean, nullable=False, default=True)

    selling_points = relationship(
        "SellingPoint",
        order_by="SellingPoint.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class SellingPoint(Base):
    __tablename__ = "selling_points"
    __table_args__ = (UniqueConstraint("product_id", "position", name="uq_selling_points_position"),)

    id = Column(Integer, primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    text = Column(Text, nullable=False)


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = (UniqueConstraint("client_id", "product_id", name="uq_holdings_client_product"),)

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    amount = Column(Numeric(16, 2, asdecimal=False))
    since = Column(DateTime, nullable=False, default=_now)
    matures_at = Column(Date)  # a deposit's or wealth product's maturity; None = open-ended or unknown
    # The call whose deal created it: correcting that call's outcome removes it again.
    call_id = Column(Integer, ForeignKey("calls.id", ondelete="SET NULL"))

    client = relationship("Client", back_populates="holdings")
    product = relationship("Product", lazy="joined")


class Call(Base):
    """One row per client per conversation: what happened on a call and how it ended."""

    __tablename__ = "calls"
    # The review list and the CSV read calls newest first, everyone's or one agent's.
    __table_args__ = (UniqueConstraint("conversation_id", "client_id", name="uq_calls_conversation_client"),
                      Index("ix_calls_started", "started_at", "id"),
                      Index("ix_calls_agent_started", "agent_id", "started_at"),
                      Index("ix_calls_client_started", "client_id", "started_at"))

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("users.id"), index=True)
    client_id = Column(Integer, ForeignKey("clients.id"), index=True)
    started_at = Column(DateTime, nullable=False, default=_now)
    ended_at = Column(DateTime)
    disposition = Column(String(16), index=True)
    objections = Column(JSON, nullable=False, default=list)
    opening_style = Column(String(32))
    # The learner's view of the opening (bot/learning): the client's segment when the call was logged, and
    # whether the style was an exploration rather than the best guess (None: no opening, or before learning).
    segment = Column(String(32))
    opening_explored = Column(Boolean)
    # Every segment the client was in when the outcome was logged, comma-joined ("" for none; None:
    # logged before this was kept): the dashboard's conversion by segment is a GROUP BY, not a profile per client.
    segments = Column(String(160))
    products = Column(JSON, nullable=False, default=list)
    amount = Column(Numeric(16, 2, asdecimal=False))
    notes = Column(Text)
    # The client's stage before this call moved it: a corrected outcome moves it from there.
    stage_before = Column(String(16))
    updated_at = Column(DateTime, nullable=False, default=_now, onupdate=_now)

    agent = relationship("User", lazy="joined")
    client = relationship("Client", lazy="joined")


class CallCount(Base):
    """Logged calls counted per agent and outcome along one of the dashboard's dimensions: all of them
    (``outcome``, key ""), per opening style, per segment the client was in, per objection raised. Kept by
    bot.call_counts as outcomes are logged or corrected, so the dashboard reads a few thousand rows
    instead of a year of calls; rebuilt from the calls by ``salesbot prepare``."""

    __tablename__ = "call_counts"
    __table_args__ = (UniqueConstraint("dimension", "key", "agent_id", "disposition", name="uq_call_counts"),)

    id = Column(Integer, primary_key=True)
    dimension = Column(String(16), nullable=False)
    key = Column(String(64), nullable=False)
    agent_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    disposition = Column(String(16), nullable=False)
    calls = Column(Integer, nullable=False)


class FollowUp(Base):
    __tablename__ = "followups"
    # A client's open follow-ups are looked up on every message about the client.
    __table_args__ = (Index("ix_followups_client_status_due", "client_id", "status", "due_at"),)

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False)
    agent_id = Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    due_at = Column(DateTime, nullable=False, index=True)
    reason = Column(Text, nullable=False)
    # open -> done (the client was called again or an outcome logged) or cancelled (勿扰).
    status = Column(String(16), nullable=False, default="open", server_default="open", index=True)
    closed_at = Column(DateTime)
    conversation_id = Column(String(128))
    created_at = Column(DateTime, nullable=False, default=_now)
    # Why the follow-up exists, as data (the next call's opening reads these, never ``reason``):
    # the objection intent that led to it, the product discussed, and what was promised (FOLLOWUP_PROMISES).
    objection = Column(String(48))
    product_code = Column(String(32))
    promise = Column(String(24))

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def agreed_by_customer(self) -> bool | None:
        """A callback the customer agreed to (a time agreed, or a call back after their objection), by
        its cause; None for rows booked before the cause was stored."""
        return None if self.promise is None else self.promise in ("agreed_time", "call_back")

    def close(self, status: str, when: datetime) -> None:
        """The one place a follow-up leaves the open state."""
        if self.status == "open":
            self.status, self.closed_at = status, when

    client = relationship("Client", lazy="joined")
    agent = relationship("User", lazy="joined")


class ConversationOwner(Base):
    """Which user a conversation (Rasa sender id) belongs to; set by the first message."""

    __tablename__ = "conversations"

    conversation_id = Column(String(128), primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, default=_now)

    user = relationship("User", lazy="joined")


class LookupRecord(Base):
    """A client pulled up in a conversation (the lookup action set the call's client): the review
    list shows it even when no outcome was logged. Kept in the CRM, one row per (conversation,
    client), so that the lists never scan the tracker store's events."""

    __tablename__ = "client_lookups"
    # The review list reads the open ones (no call row yet) newest first, everyone's or one agent's.
    __table_args__ = (UniqueConstraint("conversation_id", "client_id", name="uq_client_lookups_conversation_client"),
                      Index("ix_client_lookups_agent_first", "agent_id", "first_at"),
                      Index("ix_client_lookups_open", "call_id", "first_at"))

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    client_id = Column(Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True)
    # The conversation's owner (None: history from before owners, attributed to nobody known).
    agent_id = Column(Integer, ForeignKey("users.id"))
    first_at = Column(DateTime, nullable=False, index=True)
    # The call row once an outcome is logged for the client in this conversation (bot.outcomes, the one
    # writer of call rows): until then the lookup is listed as 未记录结果.
    call_id = Column(Integer, ForeignKey("calls.id", ondelete="SET NULL"))


class PhoneReveal(Base):
    """Audit: a supervisor pressed "show number" for a client (``kind`` 'reveal'), or found the
    client by typing the whole number (``kind`` 'lookup': the number is tied to a name)."""

    __tablename__ = "phone_reveals"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    client_id = Column(Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False)
    revealed_at = Column(DateTime, nullable=False, default=_now, index=True)
    kind = Column(String(8), nullable=False, default="reveal", server_default="reveal")

    user = relationship("User", lazy="joined")
    client = relationship("Client", lazy="joined")


class LoginThrottle(Base):
    """Failed logins per login name or per address, for the growing delay (kept across restarts)."""

    __tablename__ = "login_throttle"

    key = Column(String(200), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(DateTime, nullable=False, default=_now)
    locked_until = Column(DateTime)


class Rehearsal(Base):
    """One rehearsal (issue 10): who practised which scenario, how it ended and its score card."""

    __tablename__ = "rehearsals"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False, index=True)  # who rehearsed
    scenario_id = Column(String(64), nullable=False)
    conversation_id = Column(String(128), index=True)  # the transcript (Rasa sender id)
    started_at = Column(DateTime, nullable=False, default=_now)
    ended_at = Column(DateTime)
    outcome = Column(String(16))  # deal_step / callback_agreed / polite_end / hung_up
    total = Column(Integer)  # 0-100
    # Per item: key, title, points, max_points, feedback, model_line.
    items = Column(JSON, nullable=False, default=list)
    flags = Column(JSON, nullable=False, default=list)  # forbidden phrases said, by name
    # The scored transcript itself (speaker, text, objection raised, what each trainee line does):
    # one conversation may hold several rehearsals, so the card's lines are kept with the card.
    turns = Column(JSON, nullable=False, default=list)
    # Why the total is capped by how the call ended (客户挂断 ...) and the most it could score: kept
    # so a total recomputed later (an accepted dispute) stays under the same cap.
    ending = Column(String(64))
    ending_cap = Column(Integer)

    user = relationship("User", lazy="joined")


class CoachingComment(Base):
    """A supervisor's comment on a transcript: a rehearsal's or a live call's."""

    __tablename__ = "coaching_comments"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    author_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=_now)

    author = relationship("User", lazy="joined")


class RehearsalDispute(Base):
    """A trainee's dispute of one item of a rehearsal's score card (issue 20), and a supervisor's
    answer: accepted (the item gets its full points, the total is recomputed) or rejected with a
    comment. Points and totals before and after keep the change; one dispute per item."""

    __tablename__ = "rehearsal_disputes"
    # The supervisors' list reads open disputes first, oldest first.
    __table_args__ = (UniqueConstraint("rehearsal_id", "item_key", name="uq_rehearsal_disputes_item"),
                      Index("ix_rehearsal_disputes_status_created", "status", "created_at"))

    id = Column(Integer, primary_key=True)
    rehearsal_id = Column(Integer, ForeignKey("rehearsals.id", ondelete="CASCADE"), nullable=False, index=True)
    item_key = Column(String(64), nullable=False)  # the key of an item of the rehearsal's card
    text = Column(Text, nullable=False)  # the trainee's sentence
    status = Column(String(16), nullable=False, default="open", server_default="open")  # DISPUTE_STATUSES
    created_at = Column(DateTime, nullable=False, default=_now)
    resolver_id = Column(Integer, ForeignKey("users.id"))
    resolved_at = Column(DateTime)
    comment = Column(Text)  # the supervisor's
    points_before = Column(Integer)  # the item's points when disputed, then when resolved
    points_after = Column(Integer)
    total_before = Column(Integer)
    total_after = Column(Integer)

    rehearsal = relationship("Rehearsal", lazy="joined")
    resolver = relationship("User", lazy="joined")


class Complaint(Base):
    """A customer's complaint raised during a call (issue 19): recorded by the agent with one button,
    answered and resolved by a supervisor. ``notes`` keeps every answer: who, when, what."""

    __tablename__ = "complaints"
    # The supervisors' list reads open complaints first, newest first.
    __table_args__ = (Index("ix_complaints_status_created", "status", "created_at"),)

    id = Column(Integer, primary_key=True)
    client_id = Column(Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    conversation_id = Column(String(128))
    category = Column(String(32), nullable=False)
    text = Column(Text, nullable=False)  # the customer's words as the agent relayed them
    status = Column(String(16), nullable=False, default="open", server_default="open")
    created_at = Column(DateTime, nullable=False, default=_now)
    first_response_at = Column(DateTime)  # a supervisor's first note or the resolution
    resolved_at = Column(DateTime)
    resolved_by = Column(Integer, ForeignKey("users.id"))
    notes = Column(JSON, nullable=False, default=list)  # [{"by": login, "at": iso, "text": ..., "resolved": bool}]

    client = relationship("Client", lazy="joined")
    agent = relationship("User", lazy="joined", foreign_keys=[agent_id])


class MarketingContact(Base):
    """A conversation in which the assistant gave an opening or a pitch for a client: a marketing
    call for the contact limits (bot/contact_policy.py), whether or not an outcome was ever logged."""

    __tablename__ = "marketing_contacts"
    __table_args__ = (UniqueConstraint("conversation_id", "client_id", name="uq_marketing_contacts_conversation"),
                      Index("ix_marketing_contacts_client_at", "client_id", "at"))

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    client_id = Column(Integer, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False)
    agent_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    at = Column(DateTime, nullable=False, default=_now)  # the first opening or pitch
    opening_style = Column(String(32))  # the callback opening marks a callback the customer agreed to


class PracticeScenario(Base):
    """A rehearsal scenario a supervisor made from a reviewed live call (issue 20, point 6). ``data``
    is one entry of bot/rehearsal/scenarios.yml's schema with a fictional persona: nothing personal
    from the call is kept in it (bot/rehearsal/from_calls.py)."""

    __tablename__ = "practice_scenarios"

    id = Column(Integer, primary_key=True)
    scenario_id = Column(String(64), nullable=False, unique=True)  # call_<id>: what the chat payload names
    # One scenario per call: asking again gives the one already made.
    conversation_id = Column(String(128), nullable=False, unique=True)
    created_by = Column(Integer, ForeignKey("users.id"), nullable=False)
    created_at = Column(DateTime, nullable=False, default=_now)
    data = Column(JSON, nullable=False)

    author = relationship("User", lazy="joined")


class Change(Base):
    """One recorded change to the book (issue 21): who changed what, when, and the values before and
    after. Imports, edits, assignments, accounts and products all write here; supervisors read it."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_entity", "entity", "entity_id"),)

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=_now, index=True)
    user_id = Column(Integer, ForeignKey("users.id"))  # None: the system (a migration, the demo data)
    kind = Column(String(16), nullable=False)  # CHANGE_KINDS
    entity = Column(String(16), nullable=False)  # client / product / user
    entity_id = Column(Integer)
    batch_id = Column(Integer, ForeignKey("imports.id", ondelete="SET NULL"), index=True)  # the import, if any
    # {field: [before, after]} for edits; free keys for the rest (e.g. {"agent": [None, "agent01"]}).
    detail = Column(JSON, nullable=False, default=dict)

    user = relationship("User", lazy="joined")


class ImportBatch(Base):
    """One import of a sheet (clients or the opt-out register): what was read, written and refused;
    ``report`` keeps every refused row with its problems for the downloadable report."""

    __tablename__ = "imports"

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)  # clients / do_not_call
    filename = Column(String(255), nullable=False)
    user_id = Column(Integer, ForeignKey("users.id"))
    at = Column(DateTime, nullable=False, default=_now)
    status = Column(String(16), nullable=False)  # written / refused / dry_run
    rows_total = Column(Integer, nullable=False, default=0)
    rows_created = Column(Integer, nullable=False, default=0)
    rows_updated = Column(Integer, nullable=False, default=0)
    rows_unchanged = Column(Integer, nullable=False, default=0)
    rows_refused = Column(Integer, nullable=False, default=0)
    report = Column(JSON, nullable=False, default=list)  # [{"row": n, "values": {...}, "problems": [...]}]

    user = relationship("User", lazy="joined")


CANDIDATE_SOURCES = ("clarify", "outcome")  # the agent chose a reading / the logged outcome contradicted one
CANDIDATE_STATUSES = ("pending", "accepted", "rejected")


class NluCandidate(Base):
    """A line the floor taught us (issue 22): the agent's text and the intent a person said it means.

    Nothing enters training until a supervisor accepts it; ``floor_version`` is the version of the
    floor training data (bot/floor.py) that first included it."""

    __tablename__ = "nlu_candidates"
    __table_args__ = (Index("ix_nlu_candidates_status_intent", "status", "intent"),)

    id = Column(Integer, primary_key=True)
    text = Column(String(500), nullable=False)  # phone numbers masked before it is stored
    intent = Column(String(48), nullable=False)
    predicted = Column(String(48))  # what the model read (nlu_fallback's best guess), for the page
    confidence = Column(Float)
    source = Column(String(16), nullable=False)  # CANDIDATE_SOURCES
    user_id = Column(Integer, ForeignKey("users.id"))
    conversation_id = Column(String(128))
    at = Column(DateTime, nullable=False, default=_now, index=True)
    times = Column(Integer, nullable=False, default=1)  # the same text and intent again: counted, not repeated
    status = Column(String(16), nullable=False, default="pending")  # CANDIDATE_STATUSES
    decided_by = Column(Integer, ForeignKey("users.id"))
    decided_at = Column(DateTime)
    floor_version = Column(Integer)

    user = relationship("User", lazy="joined", foreign_keys=[user_id])
    decider = relationship("User", lazy="joined", foreign_keys=[decided_by])


# What the learner orders (bot/learning): opening styles per segment, the product pitched, an answer's variant line.
LEARNING_KINDS = ("opening", "product", "answer")
ALL_SEGMENTS = "*"  # a control for every segment (learning switched off for the whole team)


class LearningControl(Base):
    """A supervisor's control of what the learner recommends in one segment (issue 24): a pinned style,
    excluded styles, or learning off. One row per (kind, segment); every change is in the change log."""

    __tablename__ = "learning_controls"
    __table_args__ = (UniqueConstraint("kind", "segment", name="uq_learning_controls_kind_segment"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)  # LEARNING_KINDS
    segment = Column(String(32), nullable=False)  # a segment code (segments.yml), "other" or ALL_SEGMENTS
    pinned = Column(String(32))
    excluded = Column(JSON, nullable=False, default=list)
    learning = Column(Boolean, nullable=False, default=True)
    changed_by = Column(Integer, ForeignKey("users.id"))
    changed_at = Column(DateTime, nullable=False, default=_now)

    changer = relationship("User", lazy="joined")


class CallChoice(Base):
    """Something a call used that the learner compares (bot/learning): a product pitched (context: the
    segment) or the variant line of an objection's answer (context: segment|answer key). The call's
    disposition says how it went. The opening style lives on the call itself (Call.opening_style)."""

    __tablename__ = "call_choices"
    __table_args__ = (Index("ix_call_choices_kind_context", "kind", "context"),)

    id = Column(Integer, primary_key=True)
    call_id = Column(Integer, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)  # LEARNING_KINDS, not "opening"
    context = Column(String(96), nullable=False)
    arm = Column(String(48), nullable=False)
