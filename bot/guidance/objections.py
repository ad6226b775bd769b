"""What the agent says after the opening: the pitch, the answer to an objection, the buying
signal, the customer's "OK", and the request not to be called again."""

from __future__ import annotations

import random

from bot.contact_policy import cooling_off_text
from bot.guidance.filling import fill, say, spoken, wealth_notes
from bot.guidance.openings import CALLBACK_STYLE, opening
from bot.guidance.scheduling import callback_due
from bot.guidance.selection import (
    default_product,
    first_product_note,
    next_point,
    next_unused,
    product_spoken_of,
    unsuitable_note,
    usable,
)
from bot.guidance.state import CallState, Context, Reply, Script
from bot.learning.store import variant_of
from bot.playbook import playbook
from bot.profile import ProductInfo, recommend_products
from bot.text import normalize
from bot.timeparse import describe

MAX_REFUSALS = 3  # the third "no" in a call ends it politely
# Answers that name no product: the customer has no money (respected: nothing is sold, a callback is
# booked), or may not be the client at all (identity first: nothing about the client or a product).
NO_PRODUCT = ("objection_no_money", "objection_wrong_number")


def pitch(ctx: Context, state: CallState, requested: str | None = None) -> Reply:
    """The next unused selling point of the product, then 'how does that sound?'."""
    pb = playbook()
    product = default_product(ctx, state, requested)
    refused = unsuitable_note(ctx, requested, product) or _cooling_off_note(ctx, requested, product)
    if product is None:
        return Reply(Script(refused or pb.messages["no_products"], "产品介绍", "pitch"))
    index = next_point(product, state.used_points)
    notes = tuple(n for n in (refused, *first_product_note(ctx, state, product, requested),
                              *wealth_notes(product, ctx.profile)) if n)
    if index is None:
        text = pb.messages["all_points_used"].format(product=product.name, total=len(product.selling_points))
        return Reply(Script(text, "三个卖点", "pitch", notes=notes), product=product, phase="pitching")
    intro = pb.messages["pitch_intro"].format(product=product.name, index=index + 1, total=len(product.selling_points))
    text = spoken(f"{intro}{product.selling_points[index]}。{pb.messages['ask_feeling']}", product, ctx.profile)
    return Reply(Script(text, "三个卖点，一次讲一个", "pitch", notes=notes),
                 used_point=f"{product.code}:{index}", product=product, phase="pitching")


def _cooling_off_note(ctx: Context, requested: str | None, instead: ProductInfo | None) -> str | None:
    """Why a product the agent asked for is not pitched: the customer refused it lately (the
    cooling-off period, bot/contact_policy.py); and what is pitched instead, if anything."""
    product = ctx.product(requested) if requested else None
    cooling = next((c for c in ctx.cooling_off if product is not None and c.product == product.code), None)
    if cooling is None:
        return None
    messages = playbook().messages
    note = cooling_off_text(cooling, product.name)
    if instead is None:
        return f"{note}{messages['cooling_off_none_left']}"
    return f"{note}{messages['cooling_off_instead'].format(product=instead.name)}"


def handle_objection(intent: str, ctx: Context, state: CallState, rng: random.Random | None = None,
                     requested_product: str | None = None, said: str = "") -> Reply:
    """The answer to a customer's objection, aware of what this call already used and of the
    customer's words (``said``: "年费太贵" is about the card)."""
    pb = playbook()
    if intent in NO_PRODUCT:
        return _without_product(intent, ctx, state, rng)
    refusal = intent in pb.refusals
    refusals = state.refusals + (1 if refusal else 0)
    product = default_product(ctx, state, requested_product)
    if not usable(ctx, ctx.product(requested_product)):
        product = product_spoken_of(ctx, state, intent, said) or product
    refused = unsuitable_note(ctx, requested_product, product)
    if intent == "objection_already_customer" and requested_product is None:
        # Thanks, then the next product the client does not hold yet.
        product = next((p for p, _why in recommend_products(ctx.profile, ctx.catalogue)), product)
    if refusal and refusals >= MAX_REFUSALS:
        technique = pb.closing
        text = say(technique, ctx, product, state, rng)
        return Reply(Script(text, technique.name, "closing"), product=product, closed=True, objection=intent,
                     refusal=True, phase="ended")

    extra: dict[str, str] = {}
    used_point = None
    follow_up_at = None
    notes: list[str] = [refused] if refused else []
    # The price answer stays on the product priced; the others may move on to the next product's point.
    found = next_unused(ctx, state, product) if intent not in pb.objection_topics else (
        (product, _point_beside_pricing(product, state)) if product is not None else None)
    if found is not None and found[1] is not None:
        point_product, index = found
        if intent in pb.point_objections:
            # These answers spend a new selling point, possibly of the next product.
            product = point_product
            used_point = f"{product.code}:{index}"
        extra["advantage"] = point_product.selling_points[index]
    elif product is not None:
        extra["advantage"] = product.selling_points[-1]
    if intent in pb.callback_objections:
        follow_up_at = callback_due(intent, ctx.now)
        extra["callback_time"] = describe(follow_up_at, ctx.now)
    technique = pb.objections[intent]
    follow_up_technique = pb.opening_follow_ups.get(state.opening_style or "", {}).get(intent)
    if state.phase == "opening" and follow_up_technique is not None:
        # The customer reacted to the opening as in the seed: the seed's next line.
        technique = follow_up_technique
    elif intent == "objection_risk" and product is not None and not (product.is_wealth and product.risk_level):
        technique = pb.risk_no_level
    elif intent == "objection_referral_doubt" and not (ctx.profile and ctx.profile.referrer):
        technique = pb.referral_no_referrer
    variant, prefer = None, None
    if ctx.learnt is not None and len(technique.templates) > 1:
        # The team's calls order the answer's variant lines (bot/learning); all of them passed the checks.
        choice = ctx.learnt.answer(technique.key, technique.templates)
        prefer = next(t for t in technique.templates if variant_of(t) == choice.arm)
        variant = f"{technique.key}:{choice.arm}"
        if choice.reason:
            notes.append(choice.reason)
    text = say(technique, ctx, product, state, rng, prefer=prefer, **extra)
    if product is not None and product.name in text:
        text = spoken(text, product, ctx.profile)
    if product is not None and (intent == "objection_risk" or used_point):
        # Wealth products always carry their risk level and the disclosure (and the care from 65).
        notes += wealth_notes(product, ctx.profile)
    reason = None
    if follow_up_at is not None:
        reason = f"{pb.objections[intent].name}：{extra['callback_time']}回电"
    return Reply(Script(text, technique.name, technique.key if follow_up_technique is technique else intent,
                        notes=tuple(notes)), follow_up_at=follow_up_at,
                 follow_up_reason=reason, used_point=used_point, product=product, objection=intent,
                 answer_variant=variant, refusal=refusal, phase="objection")


def _point_beside_pricing(product: ProductInfo, state: CallState) -> int | None:
    """The product's next unused selling point that adds to what its pricing already says (the price
    answer states the benchmark once, not twice)."""
    for index, point in enumerate(product.selling_points):
        if f"{product.code}:{index}" not in state.used_points and point.split("，")[0] not in (product.pricing or ""):
            return index
    return None


def _without_product(intent: str, ctx: Context, state: CallState, rng: random.Random | None) -> Reply:
    """No money: understanding, no product (not even a cheap one), a callback a month on to ask how they
    are, booked. A wrong number: an apology and "are you {name}?" (or the opening's own follow-up, which
    asks the same) before anything else, the record corrected; no product, no question about their bank."""
    pb = playbook()
    technique = pb.objections[intent]
    extra: dict[str, str] = {}
    follow_up_at = reason = None
    if intent in pb.callback_objections:
        # Even on the third "no": this answer is itself the polite close, and its callback is booked.
        follow_up_at = callback_due(intent, ctx.now)
        extra["callback_time"] = describe(follow_up_at, ctx.now)
        reason = f"{technique.name}：{extra['callback_time']}回电"
    follow_up = pb.opening_follow_ups.get(state.opening_style or "", {}).get(intent)
    if state.phase == "opening" and follow_up is not None:
        technique = follow_up  # the seed's next line after this opening (identity first as well)
    text = say(technique, ctx, None, state, rng, **extra)
    name = ctx.profile.name if ctx.profile else pb.placeholders["client_name"]
    note = pb.messages["no_money_note" if intent == "objection_no_money" else "wrong_number_note"].format(name=name)
    key = technique.key if technique is follow_up else intent
    return Reply(Script(text, technique.name, key, notes=(note,)), follow_up_at=follow_up_at,
                 follow_up_reason=reason, objection=intent, refusal=intent in pb.refusals, phase="objection")


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
    text = spoken(say(pb.interested, ctx, product, state, rng, **extra), product, ctx.profile)
    return Reply(Script(text, pb.interested.name, "customer_interested", notes=wealth_notes(product, ctx.profile)),
                 used_point=used_point, product=product, phase="closing")


def decided(said: str) -> bool:
    """Whether the customer's words are a decision to sign up (行，办吧 / 就办这个), not just "OK"."""
    text = normalize(said or "")
    return any(phrase in text for phrase in playbook().messages["decision_phrases"])


def confirms_deal(state: CallState, said: str) -> bool:
    """Whether the customer's "OK" is yes to the deal: to the closing question, or words that already
    say "sign me up" while a product is under discussion."""
    return state.phase == "closing" or (
        state.phase in ("pitching", "objection") and bool(state.current_product) and decided(said))


def agrees(ctx: Context, state: CallState, rng: random.Random | None = None, said: str = "") -> Reply:
    """The customer said "OK": what it means depends on where the call is (and on whether the
    words already say "sign me up")."""
    pb = playbook()
    phase = state.phase
    if confirms_deal(state, said):
        # Yes to the closing question: the deal, for the product under discussion.
        product = default_product(ctx, state, state.current_product)
        text = spoken(fill(pb.messages["deal_agreed"], ctx, product), product, ctx.profile)
        return Reply(Script(text, "确认办理", "deal_agreed"), product=product, phase="ended", confirm_deal=True)
    if phase == "objection" and state.last_objection in pb.callback_objections:
        # Yes to the proposed callback time: thank and hang up, as the seed says.
        return Reply(Script(pb.messages["callback_agreed"], "约定回电", "callback_agreed"), phase="ended")
    if phase == "pitching" or (phase == "objection" and state.last_objection in pb.buying_signal_after):
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
    key = playbook().do_not_call
    technique = playbook().objections[key]
    text = say(technique, ctx, None, state, rng)
    return Reply(Script(text, technique.name, key), objection=key, phase="ended")
