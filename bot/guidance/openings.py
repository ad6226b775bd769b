"""The opening: which style, shaped by the client's profile, the last call and an agreed callback."""

from __future__ import annotations

import random
import re
from dataclasses import replace

from bot.contact_policy import CALLBACK_STYLE  # the opening of a callback the customer agreed to
from bot.guidance.filling import say, spoken
from bot.guidance.selection import default_product, first_product_note, next_point, usable
from bot.guidance.state import CallState, Context, Reply, Script
from bot.models import DISPOSITION_LABELS
from bot.outcomes import WARM_DISPOSITIONS
from bot.playbook import OPENING_STYLES, Technique, playbook
from bot.profile import ProductInfo, opening_lines, rank_openings
from bot.text import normalize
from bot.timeparse import describe

# Opening styles whose lines presuppose that the client already banks with us.
RELATIONSHIP_STYLES = ("familiar", "borrow_wind", "find_fault")


def style_named(text: str) -> str | None:
    """The opening style an agent asks for by name (用他人引荐的方式开场, 巧借东风的开场白)."""
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
    if last.outcome in WARM_DISPOSITIONS:
        product = next((c for c in last.products if usable(ctx, ctx.product(c))), None)
        if product:
            notes.append(pb.messages["last_call_interested"].format(date=date, product=ctx.product(product).name))
    elif last.outcome == "refused":
        avoid = last.opening_style
        notes.append(pb.messages["last_call_refused"].format(date=date, objections=objections or "未说明原因"))
    return tuple(notes), product, avoid


def _not_applicable(ctx: Context, style: str, product: ProductInfo | None) -> str:
    """Why a style asked for by name is not given: it presumes a relationship the client does not
    have, something else the client does not offer, or no line of it fits the product (openings.yml
    `unfit`)."""
    pb = playbook()
    name = pb.openings[style].name
    client = ctx.profile.name if ctx.profile else "该客户"
    true_for_client = style in dict(rank_openings(ctx.profile))
    if style in RELATIONSHIP_STYLES and not true_for_client:
        return pb.messages["style_needs_relationship"].format(style=name, name=client)
    unfit = pb.opening_unfit[style]
    reason = unfit["client"]
    if true_for_client and "product" in unfit:
        reason = unfit["product"].format(product=product.name if product else pb.placeholders["product"])
    return pb.messages["style_not_applicable"].format(style=name, name=client, reason=reason)


def opening(ctx: Context, state: CallState, rng: random.Random | None = None,
            requested_style: str | None = None) -> Reply:
    """The best opening style not yet given in this call (or the one asked for by name, when it
    is true for this client and fits the product); shaped by the last call and an agreed callback.
    The product comes first (the one the client fits best); the style is one whose lines fit it."""
    pb = playbook()
    notes: tuple[str, ...] = ()
    last_notes, last_product, avoid = _last_call_notes(ctx) if not state.opening_styles else ((), None, None)
    product = default_product(ctx, state, last_product)
    ranked = rank_openings(ctx.profile, product)
    remaining = [(s, why) for s, why in ranked if s not in state.opening_styles and s != avoid]
    restart = not remaining
    if restart:
        remaining, notes = ranked, (pb.messages["all_openings_used"],)
    style, why = remaining[0]
    explored = False
    if ctx.learnt is not None and not restart and not requested_style:
        # The team's calls order the styles the rules allow (bot/learning); they never add one.
        choice = ctx.learnt.opening([s for s, _why in remaining])
        style, why, explored = choice.arm, choice.reason or dict(remaining)[choice.arm], choice.explored
        segment = ctx.learnt.labels.context
        if explored:
            notes += (pb.messages.learning_texts["explored_note"].format(segment=segment),)
        elif choice.control == "pinned":
            notes += (pb.messages.learning_texts["pinned_note"].format(segment=segment),)
    if requested_style:
        fit = dict(ranked)
        if requested_style in fit:
            style, why, restart = requested_style, fit[requested_style], False
            notes = (pb.messages["style_requested"].format(style=pb.openings[style].name),)
        else:
            notes = (_not_applicable(ctx, requested_style, product),)
    # Only the style's lines that fit this product and this client.
    technique: Technique = replace(pb.openings[style], templates=tuple(
        line.text for line in opening_lines(style, ctx.profile, product)))
    extra = {}
    if ctx.pending_callback is not None and CALLBACK_STYLE not in state.opening_styles and not requested_style:
        # The customer agreed to this call: start from that, as the seed says.
        style, technique, restart, notes, explored = CALLBACK_STYLE, pb.callback_opening, False, (), False
        extra["callback_time"] = describe(ctx.pending_callback, ctx.now)
        why = pb.messages["callback_opening_why"].format(time=extra["callback_time"])
    elif ctx.overdue_followup is not None and not state.opening_styles:
        notes += (pb.messages["followup_overdue"].format(time=describe(ctx.overdue_followup, ctx.now)),)
    elif ctx.later_followup is not None and not state.opening_styles:
        notes += (pb.messages["followup_later"].format(time=describe(ctx.later_followup, ctx.now)),)
    notes += last_notes
    if last_product is None:
        notes += first_product_note(ctx, state, product)
    used_point = None
    if product is not None:
        # The opening spends the product's next selling point, so the next pitch moves on.
        index = next_point(product, state.used_points)
        if index is not None:
            extra["advantage"] = product.selling_points[index]
            used_point = f"{product.code}:{index}"
    text = spoken(say(technique, ctx, product, state, rng, **extra), product, ctx.profile)
    script = Script(text, technique.name, style, pb.messages["opening_why"].format(why=why), notes)
    return Reply(script, used_point=used_point, product=product, opening_style=style, explored=explored,
                 restart_openings=restart, phase="opening")
