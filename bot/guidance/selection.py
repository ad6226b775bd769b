"""Which product and which selling point the call presents next (never one the client may not buy)."""

from __future__ import annotations

from bot.guidance.state import CallState, Context
from bot.playbook import playbook
from bot.profile import ProductInfo, recommend_products, suitability_problem, suitable


def usable(ctx: Context, product: ProductInfo | None) -> bool:
    """A product the agent may present to this client (wealth products: suitability; none in its
    cooling-off period after a refusal: bot/contact_policy.py)."""
    return (product is not None and suitable(ctx.profile, product)
            and all(c.product != product.code for c in ctx.cooling_off))


def default_product(ctx: Context, state: CallState, requested: str | None = None) -> ProductInfo | None:
    """The product under discussion: asked for, else last pitched, else best fit; never one
    the client may not buy."""
    for candidate in (requested, *(reversed(state.products_pitched))):
        product = ctx.product(candidate) if candidate else None
        if usable(ctx, product):
            return product
    recommended = [p for p, _why in recommend_products(ctx.profile, ctx.catalogue) if usable(ctx, p)]
    if recommended:
        return recommended[0]
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
