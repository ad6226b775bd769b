"""Live call guidance: which opening, which product, which line to say next.

Pure logic over plain data (no Rasa, no database session), so it is unit-tested
directly; the actions translate tracker state to and from these calls.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.models import DISPOSITION_LABELS, STAGE_LABELS
from bot.playbook import OPENING_STYLES, Technique, playbook
from bot.profile import (
    ProductInfo,
    Profile,
    rank_openings,
    recommend_products,
    suitability_problem,
    suitable,
)

# Objections that are a "no" (the third one in a call ends it politely).
REFUSALS = {
    "objection_not_interested",
    "objection_hate_sales",
    "objection_has_provider",
    "objection_no_money",
}
# Objections answered by agreeing a time to call again (a follow-up is booked).
CALLBACK_OBJECTIONS = {
    "objection_busy": timedelta(hours=1),
    "objection_think_it_over": timedelta(days=2),
    "objection_send_materials": timedelta(days=1),
}
MAX_REFUSALS = 3
LOW_THRESHOLD_CATEGORIES = {"wealth", "deposit", "channel"}
# Objections answered with a selling point the call has not used yet.
POINT_OBJECTIONS = {"objection_not_interested", "objection_hate_sales", "objection_price",
                    "customer_asks_purpose", "objection_referral_doubt", "objection_already_customer"}
DO_NOT_CALL = "objection_do_not_call"
# Answers that end on a selling point and "您听着怎么样？": a yes to them is a buying signal.
BUYING_SIGNAL_AFTER = {"objection_not_interested", "objection_hate_sales", "objection_price"}
CALLBACK_STYLE = "callback"  # the opening for a callback the customer agreed to
# The reason of a follow-up booked at a time the agent agreed with the customer (约他明天三点再打).
AGREED_TIME_REASON = "约回访"
# Opening styles whose lines presuppose that the client already banks with us.
RELATIONSHIP_STYLES = ("familiar", "borrow_wind", "find_fault")



@dataclass(frozen=True)
class Script:
    """A line for the agent to say, with the technique it uses."""

    text: str
    technique: str
    key: str
    why: str | None = None
    notes: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {"type": "script", "technique": self.technique, "key": self.key,
                "text": self.text, "why": self.why, "notes": list(self.notes)}

    @property
    def readable(self) -> str:
        parts = [f"【{self.technique}】{self.text}"]
        if self.why:
            parts.append(self.why)
        parts += list(self.notes)
        return "\n".join(parts)


# Where the call is; decides what a short "OK" from the customer means.
PHASES = ("none", "opening", "pitching", "objection", "closing", "ended")


@dataclass(frozen=True)
class CallState:
    """What this call has used so far (mirrors the conversation's slots). Immutable: a
    guidance function returns a ``Reply`` and ``apply`` gives the next state."""

    used_points: tuple[str, ...] = ()  # "CODE:index"
    opening_styles: tuple[str, ...] = ()
    objections: tuple[str, ...] = ()
    products_pitched: tuple[str, ...] = ()
    refusals: int = 0
    last_line: str | None = None
    phase: str = "none"
    opening_style: str | None = None
    current_product: str | None = None  # product code under discussion
    last_objection: str | None = None

    def apply(self, reply: Reply) -> CallState:
        """The one place where a call's state changes."""
        changes: dict[str, Any] = {"last_line": reply.script.text}
        openings = () if reply.restart_openings else self.opening_styles
        if reply.opening_style:
            changes["opening_style"] = reply.opening_style
            openings = (*openings, reply.opening_style)
        changes["opening_styles"] = openings
        if reply.used_point and reply.used_point not in self.used_points:
            changes["used_points"] = (*self.used_points, reply.used_point)
        if reply.product is not None:
            changes["current_product"] = reply.product.code
            if reply.product.code not in self.products_pitched:
                changes["products_pitched"] = (*self.products_pitched, reply.product.code)
        if reply.objection:
            changes["last_objection"] = reply.objection
            if reply.objection not in self.objections:
                changes["objections"] = (*self.objections, reply.objection)
        if reply.refusal:
            changes["refusals"] = self.refusals + 1
        if reply.phase:
            changes["phase"] = reply.phase
        return replace(self, **changes)

    def apply_phase(self, phase: str) -> CallState:
        """Only the phase moves (an outcome logged by hand ends the call)."""
        return replace(self, phase=phase)


@dataclass(frozen=True)
class LastCall:
    """The client's previous call, as the opening needs it."""

    started_at: datetime
    outcome: str | None
    objections: tuple[str, ...] = ()
    products: tuple[str, ...] = ()  # codes
    opening_style: str | None = None


@dataclass(frozen=True)
class Context:
    bank: str
    hotline: str
    agent_name: str
    now: datetime
    profile: Profile | None
    catalogue: tuple[ProductInfo, ...]
    pending_callback: datetime | None = None  # a callback agreed in an earlier call, due by today
    callback_objection: str | None = None  # what the client said when that callback was agreed
    later_followup: datetime | None = None  # an open follow-up due after today
    overdue_followup: datetime | None = None  # an open follow-up from before today, never made
    last_call: LastCall | None = None  # the client's previous call (another conversation)

    def product(self, code_or_name: str | None) -> ProductInfo | None:
        for product in self.catalogue:
            if code_or_name in (product.code, product.name):
                return product
        return None


@dataclass(frozen=True)
class Reply:
    """A line for the agent and everything it changes in the call (see ``CallState.apply``)."""

    script: Script
    follow_up_at: datetime | None = None
    follow_up_reason: str | None = None
    used_point: str | None = None
    product: ProductInfo | None = None
    closed: bool = False
    opening_style: str | None = None
    restart_openings: bool = False
    objection: str | None = None
    refusal: bool = False
    phase: str | None = None
    confirm_deal: bool = False  # the customer said yes to the closing question




# ---- filling lines ---------------------------------------------------------

def _contact_detail(profile: Profile) -> str | None:
    """Who or what the contact came through; the referrer stands in only for a referral."""
    return profile.contact_detail or (profile.referrer if profile.contact_source == "referral" else None)


def contact_source_line(ctx: Context) -> str:
    """How the bank got this client's number, as true as the CRM knows it."""
    sources = playbook().messages["contact_sources"]
    p = ctx.profile
    source = p.contact_source if p and p.contact_source in sources else "unknown"
    detail = _contact_detail(p) if p else None
    if "{detail}" in sources[source] and not detail:
        source = "unknown"
    return sources[source].format(detail=detail, bank=ctx.bank)


def _fill(template: str, ctx: Context, product: ProductInfo | None, **extra: str) -> str:
    p = ctx.profile
    pb = playbook()
    said = pb.messages["last_said"]
    values = {
        "title": p.title if p else "您",
        "agent": ctx.agent_name,
        "bank": ctx.bank,
        "hotline": ctx.hotline,
        "product": product.name if product else "我们的产品",
        "advantage": product.selling_points[0] if product else "",
        "referrer": (p.referrer if p and p.referrer else "您的朋友"),
        "company": (p.company or p.occupation or "贵单位") if p else "贵单位",
        "risk_level": (product.risk_level or "") if product else "",
        "disclosure": pb.disclosure,
        "callback_time": "稍后",
        "alternatives": "手机银行",
        "comparison": (product.comparison or "") if product else "",
        "recording": pb.recording_notice,
        "last_said": said.get(ctx.callback_objection or "", said["default"]),
        "contact_source": contact_source_line(ctx),
        "pricing": (product.pricing if product and product.pricing else pb.messages["pricing_unknown"]),
        "eligibility": (product.eligibility if product and product.eligibility
                        else pb.messages["eligibility_unknown"]),
        "signup": (product.signup if product and product.signup else pb.messages["signup_unknown"]),
    }
    values.update(extra)
    return template.format(**values)


def render(template: str, ctx: Context, product: ProductInfo | None, **extra: str) -> str:
    """A template as the agent would read it (the fact checks render every template with this)."""
    return _spoken(_fill(template, ctx, product, **extra), product)


def _spoken(text: str, product: ProductInfo | None) -> str:
    """Wealth products: the risk level and the disclosure are part of what the agent says."""
    if product is None or not product.is_wealth or not product.risk_level:
        return text
    return with_risk_disclosure(text, product.name, product.risk_level)


def with_risk_disclosure(text: str, product: str, risk_level: str) -> str:
    """``text`` about a wealth product, with its risk level and the disclosure said (appended if missing)."""
    pb = playbook()
    if pb.disclosure in text and risk_level in text:
        return text
    return text + pb.messages["risk_spoken"].format(product=product, risk_level=risk_level, disclosure=pb.disclosure)


def _say(technique: Technique, ctx: Context, product: ProductInfo | None, state: CallState,
         rng: random.Random | None, **extra: str) -> str:
    """A filled template of ``technique``, never the line the bot said last."""
    templates = list(technique.templates)
    (rng or random).shuffle(templates)
    lines = [_fill(t, ctx, product, **extra) for t in templates]
    return next((line for line in lines if line != state.last_line), lines[0])


def _risk_note(product: ProductInfo) -> str | None:
    if not product.is_wealth or not product.risk_level:
        return None
    pb = playbook()
    return pb.messages["risk_notice"].format(
        risk_level=product.risk_level,
        risk_label=pb.risk_levels.get(product.risk_level, ""),
        disclosure=pb.disclosure,
    )


def usable(ctx: Context, product: ProductInfo | None) -> bool:
    """A product the agent may present to this client (wealth products: suitability)."""
    return product is not None and suitable(ctx.profile, product)


def default_product(ctx: Context, state: CallState, requested: str | None = None) -> ProductInfo | None:
    """The product under discussion: asked for, else last pitched, else best fit; never one
    the client may not buy."""
    for candidate in (requested, *(reversed(state.products_pitched))):
        product = ctx.product(candidate) if candidate else None
        if usable(ctx, product):
            return product
    recommended = recommend_products(ctx.profile, ctx.catalogue)
    if recommended:
        return recommended[0][0]
    return next((p for p in ctx.catalogue if usable(ctx, p)), None)


def unsuitable_note(ctx: Context, requested: str | None, instead: ProductInfo | None) -> str | None:
    """Why a product the agent asked for is not presented, and what is instead."""
    product = ctx.product(requested) if requested else None
    reason = suitability_problem(ctx.profile, product) if product else None
    if reason is None:
        return None
    messages = playbook().messages
    if instead is None:
        return messages["unsuitable_none_left"].format(reason=reason)
    return messages["unsuitable_requested"].format(reason=reason, product=instead.name)


def next_point(product: ProductInfo, used: list[str]) -> int | None:
    for index in range(len(product.selling_points)):
        if f"{product.code}:{index}" not in used:
            return index
    return None


def next_unused(ctx: Context, state: CallState, product: ProductInfo | None) -> tuple[ProductInfo, int] | None:
    """The next selling point not yet used in this call: the current product first,
    then the other products that fit the client."""
    candidates = [product] if product else []
    candidates += [p for p, _why in recommend_products(ctx.profile, ctx.catalogue)]
    for candidate in candidates:
        if not usable(ctx, candidate):
            continue
        index = next_point(candidate, state.used_points)
        if index is not None:
            return candidate, index
    return None


def style_named(text: str) -> str | None:
    """The opening style an agent asks for by name (用他人引荐的方式开场, 巧借东风的开场白)."""
    from bot.text import normalize

    text = normalize(text or "")
    found = [(len(alias), style) for style, aliases in playbook().opening_aliases.items()
             for alias in aliases if normalize(alias) in text]
    if found:
        return max(found)[1]
    # The seed numbers the styles 开场白一 to 九, in the order of OPENING_STYLES.
    numbered = re.search(r"开场(?:白|法)?(?:第)?([一二三四五六七八九1-9])(?![十0-9])", text)
    if numbered:
        return OPENING_STYLES["一二三四五六七八九".find(numbered.group(1)) if not numbered.group(1).isdigit()
                              else int(numbered.group(1)) - 1]
    return None


def _last_call_notes(ctx: Context) -> tuple[tuple[str, ...], str | None, str | None]:
    """Notes about the previous call, the product to continue with and a style not to repeat."""
    last = ctx.last_call
    if last is None:
        return (), None, None
    pb = playbook()
    titles = {k: t.name for k, t in pb.objections.items()}
    date = f"{last.started_at.month}月{last.started_at.day}日"
    objections = "、".join(titles.get(o, o) for o in last.objections)
    notes = [pb.messages["last_call_note"].format(
        date=date, outcome=DISPOSITION_LABELS.get(last.outcome or "", "未记录结果"),
        objections=f"（{objections}）" if objections else "")]
    product, avoid = None, None
    if last.outcome in ("interested", "thinking", "callback"):
        product = next((c for c in last.products if usable(ctx, ctx.product(c))), None)
        if product:
            notes.append(pb.messages["last_call_interested"].format(date=date, product=ctx.product(product).name))
    elif last.outcome == "refused":
        avoid = last.opening_style
        notes.append(pb.messages["last_call_refused"].format(date=date, objections=objections or "未说明原因"))
    return tuple(notes), product, avoid


def opening(ctx: Context, state: CallState, rng: random.Random | None = None,
            requested_style: str | None = None) -> Reply:
    """The best opening style not yet given in this call (or the one asked for by name, when it
    is true for this client); shaped by the last call and an agreed callback."""
    from bot.timeparse import describe

    pb = playbook()
    ranked = rank_openings(ctx.profile)
    notes: tuple[str, ...] = ()
    last_notes, last_product, avoid = _last_call_notes(ctx) if not state.opening_styles else ((), None, None)
    remaining = [(s, why) for s, why in ranked if s not in state.opening_styles and s != avoid]
    restart = not remaining
    if restart:
        remaining, notes = ranked, (pb.messages["all_openings_used"],)
    style, why = remaining[0]
    if requested_style:
        name = pb.openings[requested_style].name
        fit = dict(ranked)
        if requested_style in fit:
            style, why, restart = requested_style, fit[requested_style], False
            notes = (pb.messages["style_requested"].format(style=name),)
        else:
            key = "style_needs_relationship" if requested_style in RELATIONSHIP_STYLES else "style_not_applicable"
            client = ctx.profile.name if ctx.profile else "该客户"
            notes = (pb.messages[key].format(style=name, name=client),)
    technique: Technique = pb.openings[style]
    extra = {}
    if ctx.pending_callback is not None and CALLBACK_STYLE not in state.opening_styles and not requested_style:
        # The customer agreed to this call: start from that, as the seed says.
        style, technique, restart, notes = CALLBACK_STYLE, pb.callback_opening, False, ()
        extra["callback_time"] = describe(ctx.pending_callback, ctx.now)
        why = pb.messages["callback_opening_why"].format(time=extra["callback_time"])
    elif ctx.overdue_followup is not None and not state.opening_styles:
        notes += (pb.messages["followup_overdue"].format(time=describe(ctx.overdue_followup, ctx.now)),)
    elif ctx.later_followup is not None and not state.opening_styles:
        notes += (pb.messages["followup_later"].format(time=describe(ctx.later_followup, ctx.now)),)
    notes += last_notes
    product = default_product(ctx, state, last_product)
    used_point = None
    if product is not None:
        # The opening spends the product's next selling point, so the next pitch moves on.
        index = next_point(product, state.used_points)
        if index is not None:
            extra["advantage"] = product.selling_points[index]
            used_point = f"{product.code}:{index}"
    text = _spoken(_say(technique, ctx, product, state, rng, **extra), product)
    script = Script(text, technique.name, style, pb.messages["opening_why"].format(why=why), notes)
    return Reply(script, used_point=used_point, product=product, opening_style=style, restart_openings=restart,
                 phase="opening")


def pitch(ctx: Context, state: CallState, requested: str | None = None) -> Reply:
    """The next unused selling point of the product, then 'how does that sound?'."""
    pb = playbook()
    product = default_product(ctx, state, requested)
    refused = unsuitable_note(ctx, requested, product)
    if product is None:
        return Reply(Script(refused or pb.messages["no_products"], "产品介绍", "pitch"))
    index = next_point(product, state.used_points)
    notes = tuple(n for n in (refused, _risk_note(product)) if n)
    if index is None:
        text = pb.messages["all_points_used"].format(product=product.name, total=len(product.selling_points))
        return Reply(Script(text, "三个卖点", "pitch", notes=notes), product=product, phase="pitching")
    intro = pb.messages["pitch_intro"].format(product=product.name, index=index + 1, total=len(product.selling_points))
    text = _spoken(f"{intro}{product.selling_points[index]}。{pb.messages['ask_feeling']}", product)
    return Reply(Script(text, "三个卖点，一次讲一个", "pitch", notes=notes),
                 used_point=f"{product.code}:{index}", product=product, phase="pitching")


def handle_objection(intent: str, ctx: Context, state: CallState, rng: random.Random | None = None,
                     requested_product: str | None = None) -> Reply:
    """The answer to a customer's objection, aware of what this call already used."""
    from bot.timeparse import describe

    pb = playbook()
    refusal = intent in REFUSALS
    refusals = state.refusals + (1 if refusal else 0)
    product = default_product(ctx, state, requested_product)
    refused = unsuitable_note(ctx, requested_product, product)
    if intent == "objection_already_customer" and requested_product is None:
        # Thanks, then the next product the client does not hold yet.
        product = next((p for p, _why in recommend_products(ctx.profile, ctx.catalogue)), product)
    if refusal and refusals >= MAX_REFUSALS:
        technique = pb.closing
        follow_up = ctx.now + timedelta(days=7)
        text = _say(technique, ctx, product, state, rng, callback_time=describe(follow_up, ctx.now))
        return Reply(Script(text, technique.name, "closing"), product=product, closed=True, objection=intent,
                     refusal=True, phase="ended")

    extra: dict[str, str] = {}
    used_point = None
    follow_up_at = None
    notes: list[str] = [refused] if refused else []
    found = next_unused(ctx, state, product)
    if found is not None:
        point_product, index = found
        if intent in POINT_OBJECTIONS:
            # These answers spend a new selling point, possibly of the next product.
            product = point_product
            used_point = f"{product.code}:{index}"
        extra["advantage"] = point_product.selling_points[index]
    elif product is not None:
        extra["advantage"] = product.selling_points[-1]
    if intent in CALLBACK_OBJECTIONS:
        follow_up_at = callback_due(intent, ctx.now)
        extra["callback_time"] = describe(follow_up_at, ctx.now)
    if intent == "objection_no_money":
        # Savings and wealth products with a small entry amount; never credit to someone short of money.
        cheap = sorted((p for p in ctx.catalogue if p.category in LOW_THRESHOLD_CATEGORIES
                        and p.min_amount <= 1000 and usable(ctx, p)), key=lambda p: p.min_amount)[:3]
        extra["alternatives"] = "、".join(p.name for p in cheap) or "手机银行"
    technique = pb.objections[intent]
    follow_up_technique = pb.opening_follow_ups.get(state.opening_style or "", {}).get(intent)
    if state.phase == "opening" and follow_up_technique is not None:
        # The customer reacted to the opening as in the seed: the seed's next line.
        technique = follow_up_technique
    elif intent == "objection_risk" and product is not None and not (product.is_wealth and product.risk_level):
        technique = pb.risk_no_level
    elif intent == "objection_referral_doubt" and not (ctx.profile and ctx.profile.referrer):
        technique = pb.referral_no_referrer
    text = _say(technique, ctx, product, state, rng, **extra)
    for named in [product, *(cheap if intent == "objection_no_money" else [])]:
        if named is not None and named.name in text:
            text = _spoken(text, named)
    risk = _risk_note(product) if product is not None else None
    if risk and (intent == "objection_risk" or used_point):
        # Wealth products always carry their risk level and the disclosure.
        notes.append(risk)
    reason = None
    if follow_up_at is not None:
        reason = f"{pb.objections[intent].name}：{extra['callback_time']}回电"
    return Reply(Script(text, technique.name, technique.key if follow_up_technique is technique else intent,
                        notes=tuple(notes)), follow_up_at=follow_up_at,
                 follow_up_reason=reason, used_point=used_point, product=product, objection=intent,
                 refusal=refusal, phase="objection")


def interested(ctx: Context, state: CallState, rng: random.Random | None = None) -> Reply:
    """A buying signal: one more point of the product under discussion, then the next step
    towards signing (the closing question)."""
    pb = playbook()
    product = default_product(ctx, state)
    extra = {}
    used_point = None
    if product is not None:
        # Stay on this product: the customer said yes to it, not to the next one in the rotation.
        index = next_point(product, state.used_points)
        if index is not None:
            used_point = f"{product.code}:{index}"
        extra["advantage"] = product.selling_points[index if index is not None else -1]
    risk = _risk_note(product) if product else None
    text = _spoken(_say(pb.interested, ctx, product, state, rng, **extra), product)
    return Reply(Script(text, pb.interested.name, "customer_interested", notes=(risk,) if risk else ()),
                 used_point=used_point, product=product, phase="closing")


def decided(said: str) -> bool:
    """Whether the customer's words are a decision to sign up (行，办吧 / 就办这个), not just "OK"."""
    from bot.text import normalize

    text = normalize(said or "")
    return any(phrase in text for phrase in playbook().messages["decision_phrases"])


def agrees(ctx: Context, state: CallState, rng: random.Random | None = None, said: str = "") -> Reply:
    """The customer said "OK": what it means depends on where the call is (and on whether the
    words already say "sign me up")."""
    pb = playbook()
    phase = state.phase
    if phase == "closing" or (phase in ("pitching", "objection") and state.current_product and decided(said)):
        # Yes to the closing question: the deal, for the product under discussion.
        product = default_product(ctx, state, state.current_product)
        text = _spoken(_fill(pb.messages["deal_agreed"], ctx, product), product)
        return Reply(Script(text, "确认办理", "deal_agreed"), product=product, phase="ended", confirm_deal=True)
    if phase == "objection" and state.last_objection in CALLBACK_OBJECTIONS:
        # Yes to the proposed callback time: thank and hang up, as the seed says.
        return Reply(Script(pb.messages["callback_agreed"], "约定回电", "callback_agreed"), phase="ended")
    if phase == "pitching" or (phase == "objection" and state.last_objection in BUYING_SIGNAL_AFTER):
        # Yes to "您听着怎么样？": a buying signal.
        return interested(ctx, state, rng)
    if phase == "ended":
        return Reply(Script(pb.messages["call_already_ended"], "通话已结束", "ended"))
    if phase == "none" and ctx.pending_callback is not None and CALLBACK_STYLE not in state.opening_styles:
        # "We agreed you'd call now": the call-back opening.
        return opening(ctx, state, rng)
    # No opening yet, after the opening, or after a trust/purpose answer: they agreed to listen.
    return pitch(ctx, state)


def do_not_call(ctx: Context, state: CallState, rng: random.Random | None = None) -> Reply:
    """The customer asked not to be called again: apologise, confirm, end the call."""
    technique = playbook().objections[DO_NOT_CALL]
    text = _say(technique, ctx, None, state, rng)
    return Reply(Script(text, technique.name, DO_NOT_CALL), objection=DO_NOT_CALL, phase="ended")


def callback_due(intent: str, now: datetime) -> datetime:
    """When an objection answered with a callback (busy, think it over, ...) is called back."""
    return _office_hours(now + CALLBACK_OBJECTIONS[intent])


def _office_hours(when: datetime) -> datetime:
    """Round up to a quarter hour; move a callback outside 9:00-20:00 to the next morning at 9:30."""
    when = when.replace(second=0, microsecond=0)
    if when.minute % 15:
        when += timedelta(minutes=15 - when.minute % 15)
    if when.hour < 9:
        return when.replace(hour=9, minute=30)
    if when.hour >= 20:
        return (when + timedelta(days=1)).replace(hour=9, minute=30)
    return when


def client_card(profile: Profile, last_call: dict[str, Any] | None, phone: str | None) -> dict[str, Any]:
    """The client card shown in the widget (custom payload); ``phone`` as the user may see it."""
    return {
        "type": "client_card",
        "client": {
            "id": profile.id,
            "name": profile.name,
            "title": profile.title,
            "phone": phone,
            "gender": profile.gender,
            "age": profile.age,
            "occupation": profile.occupation,
            "company": profile.company,
            "stage": profile.stage,
            "stage_label": STAGE_LABELS.get(profile.stage, profile.stage),
            "tier": profile.tier,
            "assets": profile.assets,
            "annual_income": profile.annual_income,
            "card_spend_per_year": profile.card_spend,
            "referrer": profile.referrer,
            "agent": profile.agent_login,
            "do_not_call": profile.do_not_call,
            "holdings": list(profile.holding_names),
            "note": profile.note,
            "last_call": last_call,
            "segments": list(profile.segment_labels),
            "tier_why": profile.tier_why,
            "contact_source": profile.contact_source,
            "contact_source_label": contact_source_label(profile),
            "risk_tolerance": profile.risk_tolerance,
            "deposits": profile.deposits,
            "loan_balance": profile.loan_balance,
        },
    }


def contact_source_label(profile: Profile) -> str:
    """Where the number came from, for the agent (the client card)."""
    labels = playbook().messages["contact_source_labels"]
    label = labels.get(profile.contact_source or "", labels["unknown"])
    detail = _contact_detail(profile)
    return f"{label}（{detail}）" if detail else label


def client_summary(profile: Profile, last_call: dict[str, Any] | None) -> str:
    pb = playbook()
    lines = [pb.messages["client_summary"].format(
        name=profile.name, stage_label=STAGE_LABELS.get(profile.stage, profile.stage),
        tier=profile.tier, occupation=profile.occupation or "职业未知")]
    lines.append("持有：" + ("、".join(profile.holding_names) or pb.messages["holdings_none"]))
    lines.append(pb.messages["client_facts"].format(
        source=contact_source_label(profile),
        risk=profile.risk_tolerance or pb.messages["risk_not_assessed"]))
    if last_call:
        lines.append(f"上次通话：{last_call['started_at']}，{DISPOSITION_LABELS.get(last_call['outcome'], '未记录')}")
    else:
        lines.append("上次通话：" + pb.messages["last_call_none"])
    if profile.note:
        lines.append(f"备注：{profile.note}")
    return "\n".join(lines)

