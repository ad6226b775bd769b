"""Filling the playbook's templates: THE one filler, for live calls and the rehearsal's model lines.

The placeholders and their defaults are declared once, in bot/playbook/placeholders.yml.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping

from bot.guidance.state import CallState, Context
from bot.playbook import Technique, playbook
from bot.profile import ProductInfo, Profile, suitable

# Clients this old get extra care on wealth products (issue 19): the line offers to explain again and a
# branch visit with the family, the agent is told to confirm understanding. The CRM records the age.
CARE_AGE = 65
# Where a sentence ends; the line's closing question is its last sentence.
_SENTENCE_ENDS = "。！!？?；;"


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
        "client_name": p.name if p else default["client_name"],
        "suitability": _suitability(p, product) or default["suitability"],
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
    return spoken(fill(template, ctx, product, **extra), product, ctx.profile)


def assessed_level(profile: Profile | None, product: ProductInfo | None) -> str | None:
    """The client's risk assessment (C1-C5) when it allows this wealth product, else None."""
    if profile is None or product is None or not product.is_wealth or not suitable(profile, product):
        return None
    return profile.risk_tolerance


def needs_care(profile: Profile | None, product: ProductInfo | None) -> bool:
    """A wealth product presented to a client aged 65 or more."""
    return (product is not None and product.is_wealth and profile is not None and profile.age is not None
            and profile.age >= CARE_AGE)


def _suitability(profile: Profile | None, product: ProductInfo | None) -> str | None:
    tolerance = assessed_level(profile, product)
    if tolerance is None:
        return None
    return playbook().messages["suitability_spoken"].format(
        tolerance=tolerance, product=product.name, risk_level=product.risk_level)


def spoken(text: str, product: ProductInfo | None, profile: Profile | None = None) -> str:
    """Wealth products: the risk level, the client's own assessment beside it and the disclosure are
    part of what the agent says, before the line's closing question (and the extra care from 65)."""
    if product is None or not product.is_wealth or not product.risk_level:
        return text
    return with_risk_disclosure(text, product.name, product.risk_level, assessed_level(profile, product),
                                care=needs_care(profile, product))


def with_risk_disclosure(text: str, product: str, risk_level: str, tolerance: str | None = None,
                         care: bool = False) -> str:
    """``text`` about a wealth product with what it lacks of: its risk level and the disclosure, the
    client's assessed level beside it (``tolerance``), the extra care; said before the closing question."""
    pb = playbook()
    messages = pb.messages
    values = {"product": product, "risk_level": risk_level, "disclosure": pb.disclosure, "tolerance": tolerance}
    disclosed = pb.disclosure in text and risk_level in text
    matched = tolerance is None or tolerance in text
    said = []
    if not disclosed:
        said.append(messages["risk_spoken" if matched else "risk_spoken_matched"].format(**values))
    elif not matched:
        said.append(messages["suitability_spoken"].format(**values) + "。")
    if care and messages["care_spoken"] not in text:
        said.append(messages["care_spoken"])
    return _before_question(text, "".join(said), product) if said else text


def _before_question(text: str, addition: str, product: str) -> str:
    """``addition`` said just before ``text``'s closing question (after it when the line asks nothing):
    the customer hears the notice before being asked to answer."""
    body = text.rstrip()
    if not body.endswith(("？", "?")):
        return text + addition
    start = max(body.rfind(end, 0, len(body) - 1) for end in _SENTENCE_ENDS) + 1
    question = body[start:]
    cut = question.rfind("，")
    if product in question[:max(cut, 0)]:
        # The question's own sentence presents the product ("…好处是…，您看方便吗？"): the notice follows
        # the presentation and precedes the question.
        return body[:start] + question[:cut] + "。" + addition + question[cut + 1:]
    return body[:start] + addition + question


def say(technique: Technique, ctx: Context, product: ProductInfo | None, state: CallState,
        rng: random.Random | None, prefer: str | None = None, **extra: str) -> str:
    """A filled template of ``technique``, never the line the bot said last; ``prefer``: the template to
    use when it is not that line (the learner's choice of variant, bot.learning)."""
    templates = list(technique.templates)
    (rng or random).shuffle(templates)
    if prefer in templates:
        templates.remove(prefer)
        templates.insert(0, prefer)
    lines = [fill(t, ctx, product, **extra) for t in templates]
    return next((line for line in lines if line != state.last_line), lines[0])


def risk_note(product: ProductInfo, profile: Profile | None = None) -> str | None:
    """The note for the agent on a wealth product: its risk level, the client's assessment and the
    disclosure to read."""
    if not product.is_wealth or not product.risk_level:
        return None
    pb = playbook()
    return pb.messages["risk_notice"].format(
        risk_level=product.risk_level,
        risk_label=pb.risk_levels.get(product.risk_level, ""),
        tolerance=assessed_level(profile, product) or pb.messages["risk_not_assessed"],
        disclosure=pb.disclosure,
    )


def wealth_notes(product: ProductInfo | None, profile: Profile | None) -> tuple[str, ...]:
    """The agent's notes on a wealth product: the risk notice, and the extra care for a client of 65 or more."""
    if product is None:
        return ()
    notes = [risk_note(product, profile)]
    if needs_care(profile, product):
        notes.append(playbook().messages["care_note"].format(age=profile.age))
    return tuple(n for n in notes if n)
