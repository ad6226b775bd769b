"""Filling the playbook's templates: THE one filler, for live calls and the rehearsal's model lines.

The placeholders and their defaults are declared once, in bot/playbook/placeholders.yml.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping

from bot.guidance.state import CallState, Context
from bot.playbook import Technique, playbook
from bot.profile import ProductInfo, Profile


class _Values(dict):
    """Template values; a placeholder nobody filled renders as empty text, never an error."""

    def __missing__(self, key: str) -> str:
        return ""


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """``template`` with ``values``; unknown placeholders become empty, malformed ones are left as
    written (the playbook validates its templates at start-up, so neither happens to its lines)."""
    try:
        return string.Formatter().vformat(template, (), _Values(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def contact_detail(profile: Profile) -> str | None:
    """Who or what the contact came through; the referrer stands in only for a referral."""
    return profile.contact_detail or (profile.referrer if profile.contact_source == "referral" else None)


def _contact_source(profile: Profile | None, bank: str) -> str:
    sources = playbook().messages["contact_sources"]
    source = profile.contact_source if profile and profile.contact_source in sources else "unknown"
    detail = contact_detail(profile) if profile else None
    if "{detail}" in sources[source] and not detail:
        source = "unknown"
    return sources[source].format(detail=detail, bank=bank)


def contact_source_line(ctx: Context) -> str:
    """How the bank got this client's number, as true as the CRM knows it."""
    return _contact_source(ctx.profile, ctx.bank)


def placeholder_values(*, bank: str, agent: str, hotline: str, profile: Profile | None,
                       product: ProductInfo | None, callback_objection: str | None = None) -> dict[str, str]:
    """Every placeholder's value: what the CRM knows, else the playbook's default."""
    pb = playbook()
    default = pb.placeholders
    messages = pb.messages
    said = messages["last_said"]
    p = profile
    return {
        "title": p.title if p else default["title"],
        "agent": agent,
        "bank": bank,
        "hotline": hotline,
        "product": product.name if product else default["product"],
        "advantage": product.selling_points[0] if product else default["advantage"],
        "referrer": (p.referrer if p and p.referrer else default["referrer"]),
        "company": (p.company or p.occupation or default["company"]) if p else default["company"],
        "risk_level": (product.risk_level or "") if product else default["risk_level"],
        "disclosure": pb.disclosure,
        "callback_time": default["callback_time"],
        "alternatives": default["alternatives"],
        "comparison": (product.comparison or "") if product else default["comparison"],
        "recording": pb.recording_notice,
        "last_said": said.get(callback_objection or "", said["default"]),
        "contact_source": _contact_source(p, bank),
        "pricing": (product.pricing if product and product.pricing else messages["pricing_unknown"]),
        "eligibility": (product.eligibility if product and product.eligibility
                        else messages["eligibility_unknown"]),
        "signup": (product.signup if product and product.signup else messages["signup_unknown"]),
    }


def fill(template: str, ctx: Context, product: ProductInfo | None, **extra: str) -> str:
    """``template`` filled for this call (``extra`` overrides a value, e.g. the agreed callback time)."""
    values = placeholder_values(bank=ctx.bank, agent=ctx.agent_name, hotline=ctx.hotline, profile=ctx.profile,
                                product=product, callback_objection=ctx.callback_objection)
    return fill_template(template, {**values, **extra})


def render(template: str, ctx: Context, product: ProductInfo | None, **extra: str) -> str:
    """A template as the agent would read it (the fact checks render every template with this)."""
    return spoken(fill(template, ctx, product, **extra), product)


def spoken(text: str, product: ProductInfo | None) -> str:
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


def say(technique: Technique, ctx: Context, product: ProductInfo | None, state: CallState,
        rng: random.Random | None, **extra: str) -> str:
    """A filled template of ``technique``, never the line the bot said last."""
    templates = list(technique.templates)
    (rng or random).shuffle(templates)
    lines = [fill(t, ctx, product, **extra) for t in templates]
    return next((line for line in lines if line != state.last_line), lines[0])


def risk_note(product: ProductInfo) -> str | None:
    """The note for the agent on a wealth product: its risk level and the disclosure to read."""
    if not product.is_wealth or not product.risk_level:
        return None
    pb = playbook()
    return pb.messages["risk_notice"].format(
        risk_level=product.risk_level,
        risk_label=pb.risk_levels.get(product.risk_level, ""),
        disclosure=pb.disclosure,
    )
