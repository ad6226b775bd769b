"""The client card and summary the agent sees when a client is looked up."""

from __future__ import annotations

from typing import Any

from bot.contact_policy import ContactDecision, cooling_off_line, limits_summary
from bot.guidance.filling import contact_detail
from bot.models import DISPOSITION_LABELS, STAGE_LABELS
from bot.playbook import playbook
from bot.profile import Profile


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


def contact_status(decision: ContactDecision, product_names: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The contact policy on the client card: its JSON part and the lines for the agent (why the
    client may not be called now and when they may; the products in their cooling-off period)."""
    messages = playbook().messages
    cooling = [{"product": c.product, "name": product_names.get(c.product, c.product),
                "refused_at": c.refused_at.isoformat(timespec="minutes"),
                "until": c.until.isoformat(timespec="minutes")} for c in decision.cooling_off]
    lines = [] if decision.allowed else [decision.reason or ""]
    if cooling:
        lines.append(messages["cooling_off_card"].format(products="；".join(
            cooling_off_line(c, product_names.get(c.product, c.product)) for c in decision.cooling_off)))
    status = {
        "allowed": decision.allowed,
        "rules": list(decision.rules),
        "reason": decision.reason,
        "next_allowed": decision.next_allowed.isoformat(timespec="minutes") if decision.next_allowed else None,
        "agreed_callback": decision.agreed_callback.isoformat(timespec="minutes") if decision.agreed_callback
        else None,
        "cooling_off": cooling,
        "limits": limits_summary(),
    }
    return status, lines


def contact_source_label(profile: Profile) -> str:
    """Where the number came from, for the agent (the client card)."""
    labels = playbook().messages["contact_source_labels"]
    label = labels.get(profile.contact_source or "", labels["unknown"])
    detail = contact_detail(profile)
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
