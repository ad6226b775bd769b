"""Which product and which selling point the call presents next (never one the client may not buy)."""

from __future__ import annotations

from bot.guidance.state import CallState, Context
from bot.playbook import playbook
from bot.profile import ProductInfo, recommend_products, suitability_problem, suitable
from bot.text import normalize


def usable(ctx: Context, product: ProductInfo | None) -> bool:
    """A product the agent may present to this client (wealth products: suitability; none in its
    cooling-off period after a refusal: bot/contact_policy.py)."""
    return (product is not None and suitable(ctx.profile, product)
            and all(c.product != product.code for c in ctx.cooling_off))


def default_product(ctx: Context, state: CallState, requested: str | None = None) -> ProductInfo | None:
    """The product under discussion: asked for, else the one the call is on, else last pitched, else
    best fit; never one the client may not buy."""
    for candidate in (requested, state.current_product, *(reversed(state.products_pitched))):
        product = ctx.product(candidate) if candidate else None
        if usable(ctx, product):
            return product
    first = first_product(ctx)
    return first[0] if first else next((p for p in ctx.catalogue if usable(ctx, p)), None)


def first_product(ctx: Context) -> tuple[ProductInfo, str | None] | None:
    """The product to pitch first when the call has none yet, with the reason citing the team's calls
    when the learner has enough of them (bot/learning orders the products the rules recommend and the
    client may buy; without evidence: the best fit)."""
    recommended = [p for p, _why in recommend_products(ctx.profile, ctx.catalogue) if usable(ctx, p)]
    if not recommended:
        return None
    if ctx.learnt is None or len(recommended) == 1:
        return recommended[0], None
    choice = ctx.learnt.product([p.code for p in recommended], {p.code: p.name for p in recommended})
    return next(p for p in recommended if p.code == choice.arm), choice.reason


def product_spoken_of(ctx: Context, state: CallState, intent: str, said: str) -> ProductInfo | None:
    """The product the customer's words are about when they name a kind of product (objections.yml
    ``about``: "年费太贵" -> a card): of that kind, the one under discussion, else one pitched in this
    call, else the best fit, else any the client may hear of. None when the words name no kind or no
    such product may be presented."""
    text = normalize(said or "")
    for words, categories in playbook().objection_topics.get(intent, ()):
        if any(normalize(word) in text for word in words):
            discussed = [ctx.product(c) for c in (state.current_product, *reversed(state.products_pitched)) if c]
            fits = [p for p, _why in recommend_products(ctx.profile, ctx.catalogue)]
            return next((p for p in (*discussed, *fits, *ctx.catalogue)
                         if p is not None and p.category in categories and usable(ctx, p)), None)
    return None


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


def first_product_note(ctx: Context, state: CallState, product: ProductInfo | None,
                       requested: str | None = None) -> tuple[str, ...]:
    """The reason citing the team's calls for the product the call starts with, when the learner chose it
    with enough evidence; nothing once the call is on a product or one was asked for."""
    if product is None or requested or state.current_product or state.products_pitched:
        return ()
    first = first_product(ctx)
    return (first[1],) if first is not None and first[0].code == product.code and first[1] else ()
