"""The outcome the widget proposes when the conversation shows what happened (issue 21, point 5).

The actions that see it happen add ``"proposal"`` to their reply's custom payload: a callback was
booked (约回访), the customer asked not to be called (勿扰), the customer agreed to a product but the deal
needs its product confirmed (成交), the customer complained (记录投诉). The widget highlights the
proposal in its outcome bar with the line (建议记录：约回访（已约明天15:00）) and one click sends
``payload``: the same chat message as the bar's button or the assistant's own button for it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot import labels
from bot.playbook import playbook
from bot.timeparse import describe

COMPLAINT = "complaint"  # not a disposition: the proposal records the complaint for the supervisors


def _texts() -> dict[str, str]:
    return playbook().messages.call_list_texts


def log_outcome_payload(outcome: str, **entities: str) -> str:
    """The chat message that logs ``outcome`` (the outcome bar's and the assistant's buttons send it)."""
    return "/log_outcome" + json.dumps({"outcome": outcome, **entities}, ensure_ascii=False)


def proposal(outcome: str, detail: str | None, payload: str) -> dict[str, Any]:
    """The payload's ``proposal``: what to log (``outcome``: a disposition, or COMPLAINT), the line for
    the agent and the message one click sends."""
    texts = _texts()
    label = texts["proposal_complaint"] if outcome == COMPLAINT else labels.disposition(outcome)
    line = texts["proposal"].format(outcome=label, detail=detail) if detail else \
        texts["proposal_plain"].format(outcome=label)
    return {"outcome": outcome, "label": label, "line": line, "payload": payload}


def callback(when: datetime, now: datetime) -> dict[str, Any]:
    """A callback was booked for ``when``: log the call as 约回访."""
    return proposal("callback", _texts()["proposal_callback"].format(time=describe(when, now)),
                    log_outcome_payload("callback"))


def do_not_call(payload: str) -> dict[str, Any]:
    """The customer asked not to be called again: the assistant's 确认登记勿扰 button (``payload``)."""
    return proposal("do_not_call", _texts()["proposal_do_not_call"], payload)


def deal(product: str, payload: str) -> dict[str, Any]:
    """The customer agreed; the deal waits for its product: the first product button (``payload``)."""
    return proposal("deal", _texts()["proposal_deal"].format(product=product), payload)


def complaint(category: str, payload: str) -> dict[str, Any]:
    """The customer complained: record it under the suggested category (its button's ``payload``)."""
    return proposal(COMPLAINT, _texts()["proposal_complaint_detail"].format(category=category), payload)
